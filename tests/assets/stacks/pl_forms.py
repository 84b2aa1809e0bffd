"""LightningModule builds, one per configure_optimizers form Lightning allows (issue 14).

Each build returns the module alone; its own train_dataloader()/val_dataloader()
hooks give the data (generated, 3 classes). No Lightning Trainer is run.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _dataset(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())


class FormModule(LightningModule):
    """An MLP whose configure_optimizers returns the form named by `form`.

    Forms: "optimizer", "list", "tuple_of_lists", "tuple_list_and_scheduler",
    "dict", "dict_scheduler", "dict_scheduler_config", "list_of_dicts",
    "two_optimizers", "none", "needs_trainer", "plain_tuple" (which Lightning rejects).
    """

    def __init__(self, form: str = "optimizer") -> None:
        super().__init__()
        self.form = form
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)  # must be harmless without a Trainer
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("val_loss", loss)
        return loss

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_dataset(256, seed=0), batch_size=32, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_dataset(64, seed=1), batch_size=32)

    def configure_optimizers(self) -> Any:
        # Two groups, the head at 10x the body's LR: the sweep must keep the ratio.
        groups = [
            {"params": self.body.parameters(), "lr": 1e-3},
            {"params": self.head.parameters(), "lr": 1e-2},
        ]
        opt = torch.optim.AdamW(groups, weight_decay=0.01)
        form = self.form
        if form == "optimizer":
            return opt
        if form == "list":
            return [opt]
        if form in ("tuple_of_lists", "tuple_list_and_scheduler", "dict_scheduler",
                    "dict_scheduler_config", "plain_tuple"):  # fmt: skip
            # A warmup schedule: building it sets every group's lr to 0 at once
            # (group["initial_lr"] keeps the LRs the ratios come from).
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, step / 100))
            if form == "tuple_of_lists":
                return [opt], [sched]
            if form == "tuple_list_and_scheduler":
                return [opt], sched
            if form == "dict_scheduler":
                return {"optimizer": opt, "lr_scheduler": sched}
            if form == "dict_scheduler_config":
                return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
            return opt, sched  # not a form Lightning accepts
        if form == "dict":
            return {"optimizer": opt}
        if form == "list_of_dicts":
            return [{"optimizer": opt}]
        if form == "two_optimizers":  # Lightning needs manual optimisation for this (GANs)
            return [opt, torch.optim.SGD(self.head.parameters(), lr=0.1)]
        if form == "none":
            return None
        if form == "needs_trainer":  # a common pattern: the schedule length from the Trainer
            total = self.trainer.estimated_stepping_batches
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[1e-3, 1e-2], total_steps=total)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        raise ValueError(f"unknown form {form!r}")


class DictLossModule(FormModule):
    """training_step returns a dict with "loss" (and another entry), as Lightning allows."""

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)
        return {"loss": loss, "accuracy": (logits.argmax(1) == y).float().mean()}


class NoBatchIdxModule(FormModule):
    """training_step(self, batch) with no batch_idx: Lightning passes only the batch then."""

    def training_step(self, batch: Any) -> torch.Tensor:  # type: ignore[override]
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)


class ManualModule(FormModule):
    """automatic_optimization=False: training_step steps the optimizer itself (needs a Trainer)."""

    def __init__(self) -> None:
        super().__init__("optimizer")
        self.automatic_optimization = False

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        opt = self.optimizers()
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        return loss


def build(form: str = "optimizer") -> FormModule:
    """The module with configure_optimizers returning `form` (--arg form=dict_scheduler)."""
    return FormModule(form)


def build_optimizer() -> FormModule:
    return FormModule("optimizer")


def build_list() -> FormModule:
    return FormModule("list")


def build_tuple_of_lists() -> FormModule:
    return FormModule("tuple_of_lists")


def build_tuple_list_and_scheduler() -> FormModule:
    return FormModule("tuple_list_and_scheduler")


def build_dict() -> FormModule:
    return FormModule("dict")


def build_dict_scheduler() -> FormModule:
    return FormModule("dict_scheduler")


def build_dict_scheduler_config() -> FormModule:
    return FormModule("dict_scheduler_config")


def build_list_of_dicts() -> FormModule:
    return FormModule("list_of_dicts")


def build_two_optimizers() -> FormModule:
    return FormModule("two_optimizers")


def build_none() -> FormModule:
    return FormModule("none")


def build_needs_trainer() -> FormModule:
    return FormModule("needs_trainer")


def build_plain_tuple() -> FormModule:
    return FormModule("plain_tuple")


def build_dict_loss() -> DictLossModule:
    return DictLossModule()


def build_no_batch_idx() -> NoBatchIdxModule:
    return NoBatchIdxModule()


def build_manual() -> ManualModule:
    return ManualModule()


class HookedModule(FormModule):
    """Hooks of Lightning's loop that change training, and a setup that needs a Trainer."""

    def __init__(self, setup_needs_trainer: bool = False) -> None:
        super().__init__()
        self.setup_needs_trainer = setup_needs_trainer

    def setup(self, stage: str) -> None:
        if self.setup_needs_trainer:
            _ = self.trainer.max_epochs  # Lightning raises: not attached to a `Trainer`

    def on_fit_start(self) -> None:
        self.body.requires_grad_(False)

    def on_after_backward(self) -> None:
        raise AssertionError("never called by a range test")


def build_hooked() -> HookedModule:
    return HookedModule()


def build_setup_needs_trainer() -> HookedModule:
    return HookedModule(setup_needs_trainer=True)


def build_train_and_val_loaders() -> tuple[FormModule, DataLoader, DataLoader]:
    """As Trainer.fit(module, train_dataloaders, val_dataloaders) takes them."""
    module = FormModule()
    return module, DataLoader(_dataset(256, seed=0), batch_size=32), module.val_dataloader()

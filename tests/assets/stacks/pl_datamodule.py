"""A LightningModule with a LightningDataModule, in both package names (issue 14).

`lightning.pytorch` (lightning 2.x) and the legacy `pytorch_lightning` package
define distinct classes; lrfind must recognise both. Generated data, 3 classes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _dataset(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long())


def _classes(pl: Any) -> tuple[type, type]:
    """The module and datamodule classes, defined on the given Lightning package."""

    class Module(pl.LightningModule):
        def __init__(self, lr: float = 1e-3) -> None:
            super().__init__()
            self.lr = lr
            self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("val_loss", loss)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    class Data(pl.LightningDataModule):
        """Its datasets exist only after setup(), as in most datamodules."""

        def __init__(self, batch_size: int = 32) -> None:
            super().__init__()
            self.batch_size = batch_size
            self.prepared = False
            self.train: TensorDataset | None = None
            self.val: TensorDataset | None = None

        def prepare_data(self) -> None:
            self.prepared = True  # where a real datamodule downloads

        def setup(self, stage: str | None = None) -> None:
            self.train, self.val = _dataset(256, seed=0), _dataset(64, seed=1)

        def train_dataloader(self) -> DataLoader:
            if self.train is None:
                raise RuntimeError("setup() was not called")
            return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

        def val_dataloader(self) -> DataLoader:
            if self.val is None:
                raise RuntimeError("setup() was not called")
            return DataLoader(self.val, batch_size=self.batch_size)

    return Module, Data


def build() -> tuple[Any, Any]:
    """(LightningModule, LightningDataModule) from lightning.pytorch."""
    import lightning.pytorch as pl

    module_cls, data_cls = _classes(pl)
    return module_cls(), data_cls()


def build_legacy() -> tuple[Any, Any]:
    """The same from the legacy pytorch_lightning package."""
    import pytorch_lightning as pl

    module_cls, data_cls = _classes(pl)
    return module_cls(), data_cls()


def build_clip_dict() -> dict[str, Any]:
    """A dict form with gradient clipping, if build is to give Lightning's gradient_clip_val
    that way (a `clip_grad` key is a proposal, not yet in the contract)."""
    module, data = build()
    return {"model": module, "datamodule": data, "clip_grad": 0.5}


def build_with_trainer() -> tuple[Any, Any, Any]:
    """(module, datamodule, an unfitted lightning Trainer) if lrfind is to read
    gradient_clip_val, gradient_clip_algorithm, accumulate_grad_batches and precision
    from the Trainer the user already configured (a proposal, not yet in the contract)."""
    import lightning.pytorch as pl

    module, data = build()
    trainer = pl.Trainer(
        gradient_clip_val=0.5,
        gradient_clip_algorithm="norm",
        accumulate_grad_batches=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    return module, data, trainer

"""Tiny good and bad build() entrypoints for the tests: fast, CPU, no data files."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import nn

from lrfind import Task


def _data(n: int = 64, features: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    w = torch.arange(1.0, features + 1.0)
    return x, x @ w + 0.1 * torch.randn(n, generator=g) + 3.0


def _loader(batch_size: int = 16) -> torch.utils.data.DataLoader:
    x, y = _data()
    dataset = torch.utils.data.TensorDataset(x, y.unsqueeze(1))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)


def build(batch_size: int = 16, hidden: int = 8) -> tuple:
    """The common case: (model, loader, loss_fn)."""
    model = nn.Sequential(nn.Linear(4, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    return model, _loader(batch_size), nn.MSELoss()


def build_dict() -> dict:
    model, loader, loss = build()
    return {
        "model": model,
        "train_loader": loader,
        "loss_fn": loss,
        "optimizer": functools.partial(torch.optim.AdamW, weight_decay=0.01),
    }


def build_task() -> Task:
    model, loader, loss = build()
    return Task(model=model, train_loader=loader, loss_fn=loss)


def build_groups() -> dict:
    """An Optimizer instance with two param groups, the head at 10x the body's LR."""
    model, loader, loss = build()
    optimizer = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.01},
            {"params": model[2].parameters(), "lr": 0.1},
        ],
        momentum=0.9,
    )
    return {"model": model, "train_loader": loader, "loss_fn": loss, "optimizer": optimizer}


@dataclass
class Output:
    """A Hugging Face style model output."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None


class HFStyle(nn.Module):
    """Takes dict batches as keyword arguments and computes its own loss."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, features: torch.Tensor, labels: torch.Tensor | None = None) -> Output:
        logits = self.net(features)
        loss = None if labels is None else nn.functional.mse_loss(logits, labels)
        return Output(logits, loss)


class DictData(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.x, y = _data()
        self.y = y.unsqueeze(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"features": self.x[i], "labels": self.y[i]}


def build_hf() -> tuple:
    """(model, loader): dict batches, loss from the model's output."""
    loader = torch.utils.data.DataLoader(DictData(), batch_size=16, shuffle=True)
    return HFStyle(), loader


def build_hf_with_loss_fn() -> tuple:
    """Dict batches and a loss_fn: labels go to the loss, the rest to the model."""
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

    class Wrapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.inner(features)

    loader = torch.utils.data.DataLoader(DictData(), batch_size=16, shuffle=True)
    return Wrapped(), loader, nn.MSELoss()


def build_step_fn() -> dict:
    """Batches of three tensors, handled by step_fn."""
    x, y = _data()
    weights = torch.ones(len(x))
    dataset = torch.utils.data.TensorDataset(x, y.unsqueeze(1), weights)
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=True)
    model = nn.Linear(4, 1)

    def step_fn(model: nn.Module, batch: list[torch.Tensor]) -> torch.Tensor:
        xb, yb, wb = batch
        return ((model(xb) - yb) ** 2 * wb.unsqueeze(1)).mean()

    return {"model": model, "train_loader": loader, "step_fn": step_fn}


def build_val() -> dict:
    model, loader, loss = build()
    return {"model": model, "train_loader": loader, "loss_fn": loss, "val_loader": _loader(32)}


def build_val_empty() -> dict:
    """A val_loader with no batches: fewer samples than a batch, and drop_last."""
    task = build_val()
    dataset = task["val_loader"].dataset
    task["val_loader"] = torch.utils.data.DataLoader(dataset, 128, drop_last=True)
    return task


def nan_loss() -> tuple:
    """A loss that is NaN from the first step: no suggestion is possible."""
    model, loader, _ = build()
    return model, loader, lambda out, y: (out - y).pow(2).mean() * float("nan")


def returns_none() -> None:
    return None


def returns_model() -> nn.Module:
    return nn.Linear(4, 1)


def returns_four() -> tuple:
    return (*build(), "extra")


def returns_five() -> tuple:
    return (*build(), None, "extra")


def returns_wrong_types() -> tuple:
    return "not a model", 42, nn.MSELoss()


def raises() -> tuple:
    raise RuntimeError("dataset folder missing")


def needs_arg(size: int) -> tuple:
    return build()


class _FailsLate(nn.MSELoss):
    """An MSE that raises on its 150th call: after the sweep, in --refine's first probe."""

    calls = 0

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        type(self).calls += 1
        if type(self).calls == 150:
            raise RuntimeError("the user's loss broke")
        return super().forward(output, target)


def build_val_fails_late() -> dict:
    _FailsLate.calls = 0
    return {**build_val(), "loss_fn": _FailsLate()}

"""Models whose train-mode output is a tuple: GoogLeNet's aux heads (issue 14).

torchvision's GoogLeNet with aux_logits=True returns
GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in train mode and a tensor
in eval mode; a loss_fn then fails with torch's TypeError. The fix is a step_fn.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

# The same shape as torchvision.models.GoogLeNetOutputs.
Outputs = namedtuple("Outputs", ["logits", "aux_logits2", "aux_logits1"])


class AuxNet(nn.Module):
    """A small CNN with two auxiliary heads, returning Outputs in train mode."""

    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.mid = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.aux1 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))
        self.aux2 = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes))

    def forward(self, x: torch.Tensor) -> Any:
        a = self.stem(x)
        b = self.mid(a)
        logits = self.head(b)
        if self.training:
            return Outputs(logits, self.aux2(b), self.aux1(a))
        return logits


def _loader(n: int = 128, batch_size: int = 16) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 3, 32, 32, generator=g) + y.view(-1, 1, 1, 1).float() * 0.5
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)


def googlenet_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """The step_fn fix: main loss plus 0.3 x each aux loss (as in the GoogLeNet paper)."""
    x, y = batch
    out = model(x)
    ce = nn.functional.cross_entropy
    return ce(out.logits, y) + 0.3 * (ce(out.aux_logits1, y) + ce(out.aux_logits2, y))


def build() -> tuple[nn.Module, DataLoader, nn.Module]:
    """(model, loader, loss_fn): the loss_fn receives an Outputs tuple (fails today)."""
    return AuxNet(), _loader(), nn.CrossEntropyLoss()


def build_step_fn() -> dict[str, Any]:
    """The same with a step_fn that uses all three heads (works today)."""
    return {"model": AuxNet(), "train_loader": _loader(), "step_fn": googlenet_loss}


def build_googlenet() -> tuple[nn.Module, DataLoader, nn.Module]:
    """The real torchvision GoogLeNet (weights=None, aux_logits=True) on 32x32 images."""
    import torchvision

    model = torchvision.models.googlenet(
        weights=None, aux_logits=True, init_weights=True, num_classes=4
    )
    return model, _loader(n=32, batch_size=4), nn.CrossEntropyLoss()


def build_googlenet_step_fn() -> dict[str, Any]:
    """The real GoogLeNet with the step_fn that the error for build_googlenet shows (all heads)."""
    model, loader, _ = build_googlenet()
    return {"model": model, "train_loader": loader, "step_fn": googlenet_loss}

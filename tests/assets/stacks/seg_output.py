"""Segmentation models return an OrderedDict of outputs, {"out": ..., "aux": ...} (issue 14).

Unlike detection's dict of scalar losses, these values are logit maps
[N, classes, H, W]: they must not be summed as losses; the user's loss_fn gets
out["out"] (or a step_fn uses "aux" too). Generated images and masks.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TinySeg(nn.Module):
    """torchvision's segmentation output convention in a 2-conv net."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(8, classes, 1)
        self.aux = nn.Conv2d(8, classes, 1)

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        f = self.body(x)
        return OrderedDict(out=self.out(f), aux=self.aux(f))


def _loader(n: int = 64, size: int = 32, batch_size: int = 8) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=g)
    mask = x.argmax(dim=1)  # the brightest channel is the class: learnable per pixel
    return DataLoader(TensorDataset(x, mask), batch_size=batch_size, shuffle=True)


def seg_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    """The step_fn a user writes today: main + 0.5 x aux, as torchvision's reference does."""
    x, y = batch
    out = model(x)
    ce = nn.functional.cross_entropy
    return ce(out["out"], y) + 0.5 * ce(out["aux"], y)


def build() -> tuple[nn.Module, DataLoader, nn.Module]:
    """(model, loader, loss_fn): the loss_fn receives the OrderedDict today (TypeError)."""
    return TinySeg(), _loader(), nn.CrossEntropyLoss()


def build_step_fn() -> dict[str, Any]:
    return {"model": TinySeg(), "train_loader": _loader(), "step_fn": seg_loss}


def build_lraspp() -> tuple[nn.Module, DataLoader, nn.Module]:
    """torchvision's lraspp_mobilenet_v3_large(weights=None, weights_backbone=None), 32 px."""
    from torchvision.models.segmentation import lraspp_mobilenet_v3_large

    model = lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=3)
    return model, _loader(n=16, batch_size=4), nn.CrossEntropyLoss()

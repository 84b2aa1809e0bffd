"""timm builds: layer-wise LR decay through create_optimizer_v2 (issue 14).

timm puts an "lr_scale" in each param group and leaves every group's "lr" equal;
its schedulers set lr = base * lr_scale. The sweep must do the same. A tiny ViT
and a ResNet from configs (pretrained=False) on generated 32x32 images.
"""

from __future__ import annotations

import functools
from typing import Any

import timm
import timm.optim
import timm.scheduler
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _loader(n: int = 128, batch_size: int = 8) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (n,), generator=g)
    # Class-dependent mean: learnable in a few steps.
    x = torch.randn(n, 3, 32, 32, generator=g) + y.view(-1, 1, 1, 1).float() * 0.5
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)


def _vit() -> nn.Module:
    return timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, num_classes=4,
        img_size=32, patch_size=8, depth=3, embed_dim=32, num_heads=2,
    )  # fmt: skip


def build(layer_decay: float = 0.75) -> dict[str, Any]:
    """ViT with AdamW, weight decay 0.05 and layer decay 0.75 (group scales 0.32 .. 1.0)."""
    model = _vit()
    optimizer = timm.optim.create_optimizer_v2(
        model, "adamw", lr=1e-3, weight_decay=0.05, layer_decay=layer_decay
    )
    return {"model": model, "train_loader": _loader(), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": optimizer}  # fmt: skip


def build_no_decay() -> dict[str, Any]:
    """The same without layer decay: every group's lr_scale absent (the reference curve)."""
    model = _vit()
    optimizer = timm.optim.create_optimizer_v2(model, "adamw", lr=1e-3, weight_decay=0.05)
    return {"model": model, "train_loader": _loader(), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": optimizer}  # fmt: skip


def build_scheduled() -> dict[str, Any]:
    """After a timm scheduler is built on the optimizer: "lr" already holds base * lr_scale
    and "initial_lr" the base; lr_scale must not be applied twice."""
    spec = build()
    timm.scheduler.create_scheduler_v2(spec["optimizer"], "cosine", num_epochs=10)
    return spec


def build_resnet() -> dict[str, Any]:
    """timm ResNet-10t with SGD and layer decay 0.8 (per-stage groups)."""
    model = timm.create_model("resnet10t", pretrained=False, num_classes=4)
    optimizer = timm.optim.create_optimizer_v2(
        model, "sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, layer_decay=0.8
    )
    return {"model": model, "train_loader": _loader(batch_size=8), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": optimizer}  # fmt: skip


def build_factory() -> dict[str, Any]:
    """create_optimizer_v2 as a factory: timm needs the model itself for its decay /
    no-decay split and layer decay (given params it decays every one, in one group)."""
    factory = functools.partial(
        timm.optim.create_optimizer_v2, opt="adamw", lr=1e-3, weight_decay=0.05, layer_decay=0.75
    )
    return {"model": _vit(), "train_loader": _loader(), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": factory}  # fmt: skip

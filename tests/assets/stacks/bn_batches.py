"""BatchNorm builds: a batch of one, and validation mode (issue 14, points 6 and 7).

- build_batch_of_one: 65 examples in batches of 64: the second batch holds one
  example and BatchNorm1d in train mode raises "Expected more than 1 value per
  channel when training"; drop_last=True is the fix.
- build_val: a small BN conv net on scikit-learn's digits with a val_loader: in
  eval mode (running statistics) the validation loss blows up while the
  training loss still falls, so the sweep stops early.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def build_batch_of_one(drop_last: bool = False) -> tuple[nn.Module, DataLoader, nn.Module]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(65, 8, generator=g)
    y = (x[:, 0] > 0).long()
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    loader = DataLoader(TensorDataset(x, y), batch_size=64, drop_last=drop_last)
    return model, loader, nn.CrossEntropyLoss()


def bn_convnet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip


def build_val(batch_size: int = 64) -> dict[str, Any]:
    from sklearn.datasets import load_digits

    pixels, labels = load_digits(return_X_y=True)
    x = torch.tensor(pixels, dtype=torch.float32).view(-1, 1, 8, 8)
    x = (x - x.mean()) / x.std()
    y = torch.tensor(labels)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(1234))
    x, y = x[perm], y[perm]
    return {
        "model": bn_convnet(),
        "train_loader": DataLoader(TensorDataset(x[:-400], y[:-400]), batch_size, shuffle=True),
        "val_loader": DataLoader(TensorDataset(x[-400:], y[-400:]), batch_size),
        "loss_fn": nn.CrossEntropyLoss(),
    }

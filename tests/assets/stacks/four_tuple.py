"""build returning (model, train_loader, loss_fn, optimizer) (issue 14, point 7)."""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _parts() -> tuple[nn.Module, DataLoader, nn.Module]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 4, generator=g)
    y = x @ torch.arange(1.0, 5.0) + 0.1 * torch.randn(128, generator=g)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    loader = DataLoader(TensorDataset(x, y.unsqueeze(1)), batch_size=16, shuffle=True)
    return model, loader, nn.MSELoss()


def build() -> tuple:
    """The fourth item an optimizer factory (rejected today as a 4-tuple)."""
    model, loader, loss_fn = _parts()
    return model, loader, loss_fn, functools.partial(torch.optim.AdamW, weight_decay=0.01)


def build_instance() -> tuple:
    """The fourth item an Optimizer built on the model."""
    model, loader, loss_fn = _parts()
    return model, loader, loss_fn, torch.optim.Adam(model.parameters(), lr=1e-3)

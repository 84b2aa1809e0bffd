"""Shared pieces of the fault corpus: a tiny regression task, fast on the CPU.

Each other file in this folder is one fault; they import these helpers by
plain name (lrfind puts a SPEC file's folder on sys.path, as `python file.py`
does). Every line the corpus prints itself starts with USER, so the harness
(tests/fault_table.py) can tell the user's output from lrfind's.
"""

from __future__ import annotations

import torch
from torch import nn

USER = "[user]"


def data(n: int = 64, features: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed linear-regression data set: x (n, features), y (n, 1)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    y = x @ torch.arange(1.0, features + 1.0) + 0.1 * torch.randn(n, generator=g) + 3.0
    return x, y.unsqueeze(1)


def loader(batch_size: int = 16, n: int = 64, **kwargs: object) -> torch.utils.data.DataLoader:
    """A shuffled DataLoader over data(n)."""
    dataset = torch.utils.data.TensorDataset(*data(n))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, **kwargs)


def mlp() -> nn.Module:
    """4 -> 8 -> 1, the model most faults reuse."""
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def build() -> tuple:
    """A build that works: what a fault file returns once its own fault is done."""
    return mlp(), loader(), nn.MSELoss()

"""(c) set-up: build() returns a model created on the meta device (no storage, as
`with torch.device("meta"):` or a low-memory loading path leaves it)."""

import torch
from faultkit import loader
from torch import nn


def build() -> tuple:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    return model, loader(), nn.MSELoss()

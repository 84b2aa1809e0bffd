"""(a) stdout pollution: build() prints what it built."""

from faultkit import USER, loader, mlp
from torch import nn


def build() -> tuple:
    model = mlp()
    print(f"{USER} built {sum(p.numel() for p in model.parameters())} parameters")
    return model, loader(), nn.MSELoss()

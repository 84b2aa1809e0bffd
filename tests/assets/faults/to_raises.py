"""(c) set-up: the model's .to() raises (a custom module that refuses to move, e.g.
one holding a handle to a native resource)."""

import torch
from faultkit import loader, mlp
from torch import nn


class Pinned(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def to(self, *args: object, **kwargs: object) -> "Pinned":
        raise RuntimeError("Pinned models cannot be moved: the native handle is device-bound")


def build() -> tuple:
    return Pinned(), loader(), nn.MSELoss()

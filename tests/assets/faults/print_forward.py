"""(a) stdout pollution: forward() prints at every step (a debugging print left in)."""

import torch
from faultkit import USER, loader, mlp
from torch import nn


class Chatty(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        print(f"{USER} forward on a batch of {len(x)}")
        return self.net(x)


def build() -> tuple:
    return Chatty(), loader(), nn.MSELoss()

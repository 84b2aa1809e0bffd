"""(a) stdout pollution below Python: forward() writes to file descriptor 1 directly,
as C/C++ extensions (and CUDA, MKL, NCCL debug output) do."""

import os

import torch
from faultkit import USER, loader, mlp
from torch import nn


class NativeChatty(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        os.write(1, f"{USER} native code says hello\n".encode())
        return self.net(x)


def build() -> tuple:
    return NativeChatty(), loader(), nn.MSELoss()

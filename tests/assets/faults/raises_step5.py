"""(i) a sweep that fails at step 5, after 4 points: the partial report has a history."""

import torch
from faultkit import loader, mlp
from torch import nn


class FailsLater(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net, self.calls = mlp(), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 5:
            raise RuntimeError("cuDNN-like failure in block 3")
        return self.net(x)


def build() -> tuple:
    return FailsLater(), loader(), nn.MSELoss()

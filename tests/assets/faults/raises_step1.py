"""(i) a sweep that fails at step 1: forward() raises at once. `lrfind run` keeps a
partial report (no steps, an "error"); `lrfind show` must render it."""

import torch
from faultkit import loader, mlp
from torch import nn


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("layer 2: expected 16 channels, got 4")


def build() -> tuple:
    return Broken(), loader(), nn.MSELoss()

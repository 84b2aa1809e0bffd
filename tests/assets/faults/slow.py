"""(f) signals: a sweep slow enough to signal. forward() sleeps 20 ms and touches
$LRFIND_FAULT_MARKER once the sweep runs; build(build_sleep=S) sleeps S seconds in
build() first and touches $LRFIND_FAULT_MARKER.build when it starts."""

import os
import time
from pathlib import Path

import torch
from faultkit import loader, mlp
from torch import nn


class Slow(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        marker = os.environ.get("LRFIND_FAULT_MARKER")
        if marker:
            Path(marker).touch()
        time.sleep(0.02)
        return self.net(x)


def build(build_sleep: float = 0.0) -> tuple:
    marker = os.environ.get("LRFIND_FAULT_MARKER")
    if marker:
        Path(marker + ".build").touch()
    time.sleep(build_sleep)
    return Slow(), loader(), nn.MSELoss()

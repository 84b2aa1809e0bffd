"""(a) stdout pollution through logging: the module configures logging to sys.stdout at
import, and forward() logs (the handler holds the stream it saw at import)."""

import logging
import sys

import torch
from faultkit import USER, loader, mlp
from torch import nn

logging.basicConfig(stream=sys.stdout, level=logging.INFO, format=f"{USER} %(message)s")
log = logging.getLogger("user-model")


class Logged(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log.info("forward %d", len(x))
        return self.net(x)


def build() -> tuple:
    return Logged(), loader(), nn.MSELoss()

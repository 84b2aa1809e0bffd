"""(d) a known mistake: a TorchScript model (torch.jit.script), whose deep copy cannot train."""

import torch
from faultkit import loader, mlp
from torch import nn


def build() -> tuple:
    return torch.jit.script(mlp()), loader(), nn.MSELoss()

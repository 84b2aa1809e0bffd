"""(d) a known mistake: an optimizer whose step() needs a closure (LBFGS, a line search)."""

import torch
from faultkit import loader, mlp
from torch import nn


def build() -> dict:
    model = mlp()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1)
    return {
        "model": model,
        "train_loader": loader(),
        "loss_fn": nn.MSELoss(),
        "optimizer": optimizer,
    }

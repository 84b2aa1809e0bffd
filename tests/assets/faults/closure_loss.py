"""(d) a known mistake: a loss_fn that closes over the model build() returned (an L2 penalty
on it), so it computes on the user's model, not on the copy the sweep steps."""

from faultkit import loader, mlp
from torch import nn

MODEL = mlp()


def loss(output, target):  # a user's loss, as written
    return nn.functional.mse_loss(output, target) + 1e-3 * sum(
        p.pow(2).sum() for p in MODEL.parameters()
    )


def build() -> tuple:
    return MODEL, loader(), loss

"""(d) a known mistake: a step_fn that calls loss.backward() itself (lrfind calls it
again; torch's "retain_graph=True" advice would double the gradients)."""

from faultkit import loader, mlp
from torch import nn


def step_fn(model: nn.Module, batch: list) -> object:
    x, y = batch
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    return loss


def build() -> dict:
    return {"model": mlp(), "train_loader": loader(), "step_fn": step_fn}

"""(d) a known mistake: step_fn(batch) instead of step_fn(model, batch)."""

from faultkit import loader, mlp
from torch import nn

MODEL = mlp()


def step_fn(batch: list) -> object:
    x, y = batch
    return nn.functional.mse_loss(MODEL(x), y)


def build() -> dict:
    return {"model": MODEL, "train_loader": loader(), "step_fn": step_fn}

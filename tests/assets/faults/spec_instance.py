"""(d) a known mistake: the SPEC names a model instance (spec_instance.py:model), not a
function that returns (model, train_loader, loss_fn)."""

from faultkit import build
from torch import nn

model = nn.Linear(4, 1)

__all__ = ["build", "model"]

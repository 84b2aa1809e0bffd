"""(d) a weight-normalised model: torch.nn.utils.weight_norm (the old hook API) or
torch.nn.utils.parametrizations.weight_norm; deepcopy of the first fails in torch."""

from faultkit import loader
from torch import nn


def build(api: str = "old") -> tuple:
    layer = nn.Linear(4, 8)
    if api == "old":
        layer = nn.utils.weight_norm(layer)
    else:
        layer = nn.utils.parametrizations.weight_norm(layer)
    return nn.Sequential(layer, nn.Tanh(), nn.Linear(8, 1)), loader(), nn.MSELoss()

"""Sanity priors: the LRs practitioners usually start from, per optimizer family.

Torch-free. A range test that lands far outside these is not necessarily
wrong, but it deserves a second look, so the report warns when the
suggestion is more than WARN_DECADES away from its family's range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WARN_DECADES = 2.0


@dataclass(frozen=True)
class Prior:
    """A family of optimizers and the LR range it usually starts from."""

    family: str
    low: float
    high: float
    label: str


SGD = Prior("sgd", 1e-2, 1e-1, "SGD with momentum")
ADAM = Prior("adam", 1e-4, 3e-3, "Adam/AdamW")
FINETUNE = Prior("finetune", 1e-5, 1e-4, "fine-tuning a pretrained transformer")
PRIORS: dict[str, Prior] = {p.family: p for p in (SGD, ADAM, FINETUNE)}

# torch.optim class name -> family. Optimizers with no widely agreed range
# (Adagrad, Adadelta, Rprop, ...) have no prior and get no warning.
FAMILIES: dict[str, str] = {
    "SGD": "sgd",
    "Adam": "adam",
    "AdamW": "adam",
    "Adamax": "adam",
    "NAdam": "adam",
    "RAdam": "adam",
}

FINETUNE_NOTE = (
    "if the model is pretrained (fine-tuning), range tests tend to suggest LRs that are "
    f"too high: fine-tuning usually starts at {FINETUNE.low:g}-{FINETUNE.high:g}"
)


def prior_for(optimizer: str) -> Prior | None:
    """The prior for a torch.optim class name ("AdamW"), or None when there is none."""
    family = FAMILIES.get(optimizer)
    return None if family is None else PRIORS[family]


def decades_away(lr: float, prior: Prior) -> float:
    """How far `lr` is outside the prior's range, in decades (0 inside it).

    >>> decades_away(1.0, SGD), decades_away(0.05, SGD), decades_away(1e-4, SGD)
    (1.0, 0.0, 2.0)
    """
    if lr < prior.low:
        return math.log10(prior.low / lr)
    if lr > prior.high:
        return math.log10(lr / prior.high)
    return 0.0


def prior_warnings(lr: float | None, optimizer: str, loss_source: str = "train") -> list[str]:
    """A warning when `lr` is more than WARN_DECADES from the optimizer's usual range.

    Below the range, the likely causes differ with what the curve is: a
    validation loss can rise long before the training loss does (layers that
    behave differently in eval mode), which a training-loss sweep shows.
    """
    prior = None if lr is None or not lr > 0 else prior_for(optimizer)
    if prior is None or lr is None:
        return []
    away = decades_away(lr, prior)
    if not away > WARN_DECADES + 1e-9:
        return []
    side = "above" if lr > prior.high else "below"
    text = (
        f"the suggested lr {lr:.3g} is {away:.1f} decades {side} the usual "
        f"{prior.low:g}-{prior.high:g} for {prior.label} ({optimizer}): check the curve"
    )
    if side == "above":
        text += f"; {FINETUNE_NOTE}"
    elif loss_source.startswith("validation"):
        text += (
            "; the curve is the validation loss, which can rise while the training loss still "
            "falls: compare with a sweep of the training loss (no val_loader, no --val-batches)"
        )
    else:
        text += "; a loss that needs so small an LR may point at unnormalised inputs or a bug"
    return [text]


def prior_dict(lr: float | None, optimizer: str) -> dict[str, object] | None:
    """The prior used for the report, with the distance of `lr` from it."""
    prior = prior_for(optimizer)
    if prior is None:
        return None
    away = None if lr is None or not lr > 0 else round(decades_away(lr, prior), 3)
    return {
        "optimizer": optimizer,
        "family": prior.family,
        "low": prior.low,
        "high": prior.high,
        "decades_away": away,
    }

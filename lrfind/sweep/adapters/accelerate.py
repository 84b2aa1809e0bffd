"""An optimizer that accelerate prepared: the sweep steps the optimizer inside it.

An AcceleratedOptimizer steps only when its gradient state says the micro-batches of an
accumulation are done (`sync_gradients`), a flag its copy keeps as it was: copied between
two micro-batches of the user's loop, it would never step, and the sweep would train
nothing. lrfind does its own accumulation (--accumulate) and mixed precision (--amp), so
the copy's inner optimizer is swept, and a Note says what the Accelerator would add.
accelerate is never imported: the wrapper is known by its module and attributes.
"""

from __future__ import annotations

from typing import Any

import torch


def _accelerated(optimizer: Any) -> bool:
    return type(optimizer).__module__.startswith("accelerate") and isinstance(
        vars(optimizer).get("optimizer"), torch.optim.Optimizer
    )


def unwrapped(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer an AcceleratedOptimizer steps (the copy's), else `optimizer`."""
    return vars(optimizer)["optimizer"] if _accelerated(optimizer) else optimizer


def accelerated_notes(optimizer: Any) -> list[str]:
    """What the user's AcceleratedOptimizer does that the sweep leaves to lrfind's options."""
    if not _accelerated(optimizer):
        return []
    inner = type(vars(optimizer)["optimizer"]).__name__
    state = vars(optimizer).get("gradient_state")
    steps = getattr(state, "num_steps", 1)  # its gradient_accumulation_steps
    said = (
        f"swept the {inner} inside the AcceleratedOptimizer (lrfind accumulates and casts itself)"
    )
    if isinstance(steps, int) and steps > 1:
        said += f"; the Accelerator accumulates {steps} micro-batches: pass --accumulate {steps}"
    if vars(optimizer).get("scaler") is not None:
        said += "; its fp16 GradScaler is not used: pass --amp fp16"
    return [said]

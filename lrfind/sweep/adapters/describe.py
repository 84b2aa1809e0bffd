"""What the sweep trained with, read off the live optimizer, as lrfind.core.training.Training."""

from __future__ import annotations

from typing import Any

import torch

from lrfind.config.settings import SweepConfig
from lrfind.core.training import Group, Training

# Optimizer defaults worth reporting; the rest (foreach, differentiable, ...) are how, not what.
_PLAIN = (bool, int, float, str)
_SKIP = {"lr", "initial_lr", "foreach", "differentiable", "capturable", "maximize", "params"}


def describe(
    task: Any,
    config: SweepConfig,
    optimizer: torch.optim.Optimizer,
    origin: str,
    ratios: list[float],
    notes: list[str],
) -> Training:
    """The Training record of one sweep: `ratios` are the groups' LR multiples the sweep keeps."""
    groups = tuple(
        Group(
            ratio=ratio,
            params=len(g["params"]),
            weight_decay=_float(g.get("weight_decay")),
            lr_scale=_float(g.get("lr_scale")),
        )
        for g, ratio in zip(optimizer.param_groups, ratios, strict=True)
    )
    stack = getattr(task, "stack", None)
    took, aside = stack.applied(config) if stack is not None else ([], [])
    return Training(
        optimizer=optimizer_name(optimizer),
        origin=origin,
        hyper=_hyper(optimizer),
        groups=groups,
        clip_grad=config.clip_grad or None,
        clip_mode=config.clip_mode,
        accumulate=config.accumulate,
        amp=config.amp,
        stack=None if stack is None else stack.name,
        took=tuple(took),
        set_aside=tuple(aside),
        notes=notes,
    )


def optimizer_name(optimizer: torch.optim.Optimizer) -> str:
    """Its class name, with the optimizer inside a wrapper: "Lookahead over AdamW" (timm),
    "AcceleratedOptimizer over AdamW" (accelerate)."""
    name = type(optimizer).__name__
    inner = wrapped(optimizer)
    return name if inner is None else f"{name} over {optimizer_name(inner)}"


def innermost(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer inside any wrappers: the one whose usual LRs the sanity priors know."""
    inner = wrapped(optimizer)
    return optimizer if inner is None else innermost(inner)


def wrapped(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer | None:
    """The optimizer a wrapper steps: timm's Lookahead `_base_optimizer`, accelerate's
    AcceleratedOptimizer `optimizer`; None for a plain one."""
    for key in ("_base_optimizer", "optimizer"):
        inner = vars(optimizer).get(key)
        if isinstance(inner, torch.optim.Optimizer) and inner is not optimizer:
            return inner
    return None


def _hyper(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The plain hyperparameters every group trains with (a group's own value wins over the
    constructor's default); one the groups do not share is left to the groups' own line."""
    out = {}
    for key in optimizer.defaults:
        values = [g.get(key, optimizer.defaults[key]) for g in optimizer.param_groups]
        value = values[0] if values else optimizer.defaults[key]
        if key in _SKIP or value is None or value is False or any(v != value for v in values):
            continue
        if isinstance(value, _PLAIN):
            out[key] = value
        elif isinstance(value, tuple | list) and all(isinstance(v, int | float) for v in value):
            out[key] = tuple(float(v) for v in value)
    return out


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None

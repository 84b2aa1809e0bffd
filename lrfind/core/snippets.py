"""How a torch.optim.lr_scheduler call is written: one formatter for every place that prints one.

`lrfind run`'s schedule lines and snippets and `lrfind schedule`'s calls use
these, so the same scheduler reads the same everywhere: the optimizer is
called `optimizer`, floats carry at most 6 significant digits (what a person
would type; the plan's bounds are already rounded to 3), everything else is
its repr.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

OPTIMIZER = "optimizer"  # the variable the snippets assume holds the user's optimizer


def literal(value: Any) -> str:
    """A value as Python source: floats to 6 significant digits, the rest as repr.

    >>> literal(0.1 + 0.2), literal(1e4), literal([50, 75])
    ('0.3', '10000', '[50, 75]')
    """
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple) and any(isinstance(v, float) for v in value):
        inner = ", ".join(literal(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)


def scheduler_call(cls: str, kwargs: Mapping[str, Any]) -> str:
    """`Cls(optimizer, key=value, ...)`.

    >>> scheduler_call("StepLR", {"step_size": 30, "gamma": 0.1})
    'StepLR(optimizer, step_size=30, gamma=0.1)'
    """
    args = ", ".join(f"{k}={literal(v)}" for k, v in kwargs.items())
    return f"{cls}({OPTIMIZER}, {args})" if args else f"{cls}({OPTIMIZER})"


def sequential_call(parts: Sequence[tuple[str, Mapping[str, Any]]], milestones: list[int]) -> str:
    """`SequentialLR(optimizer, schedulers=[...], milestones=[...])` over `parts`."""
    inner = ", ".join(scheduler_call(cls, kwargs) for cls, kwargs in parts)
    return f"SequentialLR({OPTIMIZER}, schedulers=[{inner}], milestones={milestones!r})"

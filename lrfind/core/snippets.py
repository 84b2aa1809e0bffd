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


def round3(x: float) -> float:
    """Three significant digits: what an LR deserves, and what reads well in code."""
    return float(f"{x:.3g}")


class GroupLRs:
    """The param groups' LR ratios: LRs as one float, or as a list of one per group."""

    def __init__(self, ratios: Sequence[float] | None) -> None:
        self.ratios = [float(r) for r in ratios] if ratios else [1.0]
        self.differ = len({round3(r) for r in self.ratios}) > 1 or self.ratios[0] != 1.0

    def lr(self, headline: float) -> float | list[float]:
        if not self.differ:
            return round3(headline)
        return [round3(headline * r) for r in self.ratios]

    def comment(self) -> str:
        """The line every snippet carries when the groups' LRs differ."""
        if not self.differ:
            return ""
        scale = self.ratios[0]
        whose = "group 0's" if scale == 1.0 else f"group 0's before its lr_scale ({scale:.3g})"
        return (
            f"# One LR per param group ({len(self.ratios)}), in the ratios the sweep kept; "
            f"the headline LR is {whose}.\n"
        )

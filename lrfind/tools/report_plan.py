"""What `lrfind run` planned its schedules from, read back from its report.json.

The report keeps the suggestion, the curve's bounds and the plan's length
(`schedules.base_lr`, `schedules.max_lr`, `schedules.total_steps`) and each
param group's LR ratio (`training.param_groups[].lr_ratio`): all that
lrfind.core.plan.plan needs to plan the same schedules again. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrfind.core.snippets import GroupLRs
from lrfind.errors import UsageError

MAX_STEPS = 100_000  # the most steps `lrfind schedule` steps a scheduler


@dataclass(frozen=True)
class ReportPlan:
    """What `lrfind run` planned its schedules from, as its report keeps it."""

    peak_lr: float  # the suggestion, in full
    base_lr: float  # where the loss starts to fall
    max_lr: float  # where it stops
    total_steps: int
    #: Each param group's LR as a multiple of the headline LR; None: one group.
    ratios: tuple[float, ...] | None = None

    @property
    def groups(self) -> GroupLRs:
        return GroupLRs(self.ratios)


def report_plan(report: Mapping[str, Any], path: object) -> ReportPlan | None:
    """What the run planned from (a report `read_report` checked); None if it planned nothing.

    None for a report without "schedules" (an older lrfind) or with null (no
    suggestion, or a loss that never fell). The groups' ratios come from
    training.param_groups; a report without them is one group.
    """
    saved = report.get("schedules")
    if saved is None or report.get("suggested_lr") is None:
        return None
    if not isinstance(saved, Mapping):
        raise UsageError(f"{path}: 'schedules' is {_shown(saved)}, expected an object or null")
    bounds = [
        _positive(saved.get(k, _MISSING), f"schedules.{k}", path) for k in ("base_lr", "max_lr")
    ]
    total = saved.get("total_steps", _MISSING)
    if not (isinstance(total, int) and not isinstance(total, bool) and 2 <= total <= MAX_STEPS):
        raise UsageError(
            f"{path}: 'schedules.total_steps' is {_shown(total)}, expected an integer "
            f"from 2 to {MAX_STEPS:,}"
        )
    peak = float(report["suggested_lr"])
    return ReportPlan(peak, bounds[0], bounds[1], total, _ratios(report.get("training"), path))


def _positive(value: Any, key: str, path: object) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and value > 0):
        raise UsageError(f"{path}: '{key}' is {_shown(value)}, expected an LR (a number > 0)")
    return float(value)


def _ratios(training: Any, path: object) -> tuple[float, ...] | None:
    """training.param_groups[].lr_ratio; None when the report has no groups (one group)."""
    if training is None:
        return None
    if not isinstance(training, Mapping):
        raise UsageError(f"{path}: 'training' is {_shown(training)}, expected an object or null")
    groups = training.get("param_groups")
    if not groups:
        return None
    if not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
        raise UsageError(
            f"{path}: 'training.param_groups' is {_shown(groups)}, expected a list of objects"
        )
    key = "training.param_groups[{}].lr_ratio"
    return tuple(_positive(g.get("lr_ratio"), key.format(i), path) for i, g in enumerate(groups))


class _Missing:
    """A key the report lacks: "missing", not Python's None (a JSON null is "null")."""


_MISSING = _Missing()


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    text = "null" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."

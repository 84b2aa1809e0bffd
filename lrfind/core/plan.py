"""Training schedules derived from a range test: one-cycle, cyclic, warmup + cosine.

Pure and torch-free: plain floats in, keyword arguments of the real
torch.optim.lr_scheduler classes (and a ready-to-paste snippet) out. The
bounds come from the smoothed loss curve, after Smith ("Cyclical Learning
Rates for Training Neural Networks", 2017):

- base_lr: where the smoothed loss starts to fall, the first LR at which it
  has come down by FALL_FRACTION of its total drop (plateau -> minimum; the
  plateau is the median of the first 10% of the points);
- max_lr: where it stops falling, the first LR at which it is within
  FALL_FRACTION of the total drop from its minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lrfind.core.curve import edges
from lrfind.core.snippets import GroupLRs, literal, scheduler_call, sequential_call
from lrfind.core.snippets import round3 as _round

# Share of the total drop (plateau -> minimum) that marks where the fall starts
# and where it ends: small enough to sit at the knees of the curve, large
# enough that noise on the plateau does not trip it.
FALL_FRACTION = 0.05
# The training run the schedules are laid out for, in optimizer steps; the
# sweep cannot know it, so the report states it and the API takes it.
DEFAULT_TOTAL_STEPS = 1000
WARMUP_FRACTION = 0.05  # warm-up share of the run (a convention, not from the curve)
PCT_START = 0.3  # OneCycleLR's default share of the run spent rising
FINAL_DIV_FACTOR = 1e4  # OneCycleLR's default: the last LR is initial / 1e4
# The warm-up starts at base_lr, but never closer than 10x and never farther
# than 1000x below the peak: a start of fall right at the peak would leave no
# warm-up, and one at the sweep's first LR would waste the warm-up on LRs
# that do nothing.
MIN_DIV, MAX_DIV = 10.0, 1000.0
CYCLES = 4  # CyclicLR: full triangles over the run (Smith: 2-10 epochs per half cycle)
# CyclicLR's low end sits where the loss starts to fall, but at least this far below its
# peak (Smith's rule of thumb: base_lr = max_lr / 3 or / 4).
CYCLIC_MIN_DIV = 3.0


@dataclass(frozen=True)
class Schedule:
    """One scheduler: its torch class, keyword arguments and a snippet to paste.

    `kwargs` holds everything but the optimizer; for "warmup_cosine" it holds
    the keyword arguments of each of the three classes by class name.
    """

    name: str
    cls: str
    kwargs: dict[str, Any]
    snippet: str
    #: The constructor call alone, for the terminal.
    summary: str


@dataclass(frozen=True)
class SchedulePlan:
    """The three schedules and the curve bounds they come from."""

    base_lr: float
    max_lr: float
    peak_lr: float
    total_steps: int
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        return {
            "total_steps": self.total_steps,
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "peak_lr": self.peak_lr,
            **{
                s.name: {"class": s.cls, "kwargs": s.kwargs, "snippet": s.snippet}
                for s in self.schedules.values()
            },
        }


def fall_bounds(lrs: Sequence[float], smoothed: Sequence[float]) -> tuple[float, float] | None:
    """(base_lr, max_lr): where the smoothed loss starts and stops falling, or None.

    The plateau level is the median of the first 10% of the finite points (at
    least one); the drop is plateau minus the minimum. base_lr is the first LR
    where the loss is below plateau - FALL_FRACTION x drop; max_lr the first
    LR where it is below minimum + FALL_FRACTION x drop. None when the loss
    never falls.

    >>> fall_bounds([1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 10, 9, 5, 1, 3, 9, 20, 50])
    (3, 5)
    """
    # Up to where the suggestions look: the last points before the stop are a
    # model already blowing up, where a lucky batch would pass for the minimum.
    hi = edges(min(len(lrs), len(smoothed)))[1]
    pairs = zip(lrs[:hi], smoothed[:hi], strict=False)
    points = [(x, y) for x, y in pairs if _finite(x) and _finite(y)]
    if len(points) < 3:
        return None
    head = sorted(y for _, y in points[: max(1, len(points) // 10)])
    plateau = head[len(head) // 2]
    i_min = min(range(len(points)), key=lambda i: points[i][1])
    drop = plateau - points[i_min][1]
    if not drop > 1e-12 * max(1.0, abs(plateau)):
        return None
    start_level = plateau - FALL_FRACTION * drop
    end_level = points[i_min][1] + FALL_FRACTION * drop
    base = next(x for x, y in points[: i_min + 1] if y <= start_level)
    top = next(x for x, y in points[: i_min + 1] if y <= end_level)
    return base, top


def plan(
    lrs: Sequence[float],
    smoothed: Sequence[float],
    suggested_lr: float | None,
    total_steps: int = DEFAULT_TOTAL_STEPS,
    bounds: tuple[float, float] | None = None,
    ratios: Sequence[float] | None = None,
) -> SchedulePlan | None:
    """The schedules for a sweep's curve and suggestion; None without a suggestion.

    Every schedule peaks at the suggested LR: the curve's minimum (max_lr) is the
    edge of divergence in a 100-step test, and a run that returns to it every cycle
    blows up. One-cycle and warmup + cosine start from base_lr (kept 10x to 1000x
    below the peak), the cyclic schedule cycles between base_lr (at least 3x below
    the peak) and the peak. base_lr and max_lr are found by `fall_bounds`, unless
    `bounds` gives them (the robust rule's: lrfind.core.robust_suggest); the plan
    reports both. `ratios` are the param groups' LRs as multiples of
    the headline LR, as the sweep kept them: when they differ, every LR becomes a
    list with one entry per group, so the schedule keeps them.
    """
    if suggested_lr is None or not suggested_lr > 0 or total_steps < 2:
        return None
    if bounds is None:
        bounds = fall_bounds(lrs, smoothed)
    if bounds is None:
        return None
    base, top = bounds
    peak = float(suggested_lr)
    div = min(max(peak / base, MIN_DIV), MAX_DIV)
    groups = GroupLRs(ratios)
    schedules = [
        _one_cycle(peak, div, total_steps, groups),
        _cyclic(min(base, peak / CYCLIC_MIN_DIV), peak, total_steps, groups),
        _warmup_cosine(peak, div, total_steps, groups),
    ]
    return SchedulePlan(base, top, peak, total_steps, {s.name: s for s in schedules})


def _one_cycle(peak: float, div: float, total: int, groups: GroupLRs) -> Schedule:
    kwargs = {
        "max_lr": groups.lr(peak),
        "total_steps": total,
        "div_factor": _round(div),
        "final_div_factor": FINAL_DIV_FACTOR,
        "pct_start": PCT_START,
    }
    call = scheduler_call("OneCycleLR", kwargs)
    snippet = (
        "from torch.optim.lr_scheduler import OneCycleLR\n\n"
        f"{groups.comment()}"
        f"# total_steps: optimizer steps in your run; call scheduler.step() after each.\n"
        f"scheduler = {call}\n"
    )
    return Schedule("one_cycle", "torch.optim.lr_scheduler.OneCycleLR", kwargs, snippet, call)


def _cyclic(base: float, top: float, total: int, groups: GroupLRs) -> Schedule:
    kwargs = {
        "base_lr": groups.lr(base),
        "max_lr": groups.lr(top),
        "step_size_up": max(1, total // (2 * CYCLES)),
        "mode": "triangular",
        "cycle_momentum": False,  # cycle the LR only, as in Smith's CLR
    }
    call = scheduler_call("CyclicLR", kwargs)
    snippet = (
        "from torch.optim.lr_scheduler import CyclicLR\n\n"
        f"{groups.comment()}"
        "# call scheduler.step() after each optimizer step.\n"
        f"scheduler = {call}\n"
    )
    return Schedule("cyclic", "torch.optim.lr_scheduler.CyclicLR", kwargs, snippet, call)


def _warmup_cosine(peak: float, div: float, total: int, groups: GroupLRs) -> Schedule:
    warmup = max(1, round(WARMUP_FRACTION * total))
    linear = {"start_factor": _round(1.0 / div), "end_factor": 1.0, "total_iters": warmup}
    cosine = {"T_max": total - warmup}
    sequential = {"milestones": [warmup]}
    kwargs: dict[str, Any] = {
        "peak_lr": _round(peak),
        "warmup_steps": warmup,
        "LinearLR": linear,
        "CosineAnnealingLR": cosine,
        "SequentialLR": sequential,
    }
    peaks = groups.lr(peak)
    if isinstance(peaks, list):
        kwargs["group_peak_lrs"] = peaks  # each param group's peak: set as its "lr"
    call = sequential_call(
        [("LinearLR", linear), ("CosineAnnealingLR", cosine)], sequential["milestones"]
    )
    if isinstance(peaks, list):
        set_lr = (
            f"{groups.comment()}"
            "# The optimizer's LRs are the peaks: set them here, before the scheduler.\n"
            f"for group, lr in zip(optimizer.param_groups, {literal(peaks)}):\n"
            "    group['lr'] = lr\n"
        )
    else:
        set_lr = (
            f"# The optimizer's LR is the peak: build it with lr={literal(_round(peak))}, or set "
            "it here.\n"
            "for group in optimizer.param_groups:\n"
            f"    group['lr'] = {literal(_round(peak))}\n"
        )
    snippet = (
        "from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR\n\n"
        f"{set_lr}"
        "# call scheduler.step() after each optimizer step.\n"
        f"scheduler = {call}\n"
    )
    return Schedule("warmup_cosine", "torch.optim.lr_scheduler.SequentialLR", kwargs, snippet, call)


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)

"""--repeats: several sweeps with different seeds, one median suggestion, its spread.

The statistics are plain math over floats (log10 of the suggestions); `combine`
folds the repeats' SweepResults into one whose suggestion is the median and
whose history is the repeat nearest to it.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrfind.config import SweepConfig
    from lrfind.result import SweepResult

# Repeats whose suggestions span at most this many decades (a factor of 2)
# agree as well as a range test can: the loss curve's own resolution is about that.
STABLE_DECADES = 0.3


def median_lr(lrs: Sequence[float | None]) -> float | None:
    """The median of the LRs that exist, taken in log space (None if there are none).

    >>> median_lr([1e-3, None, 1e-1, 1e-2]), median_lr([1e-3, 1e-1])
    (0.01, 0.01)
    """
    got = sorted(x for x in lrs if x is not None and x > 0)
    if not got:
        return None
    mid = len(got) // 2
    if len(got) % 2:  # the middle repeat's own LR, exactly
        return got[mid]
    return float(f"{math.sqrt(got[mid - 1] * got[mid]):.12g}")  # geometric mean of the two


def spread_decades(lrs: Sequence[float | None]) -> tuple[float, float] | None:
    """(max - min, population std) of log10 of the LRs that exist; None if there are none.

    >>> spread_decades([1e-3, 1e-1])
    (2.0, 1.0)
    """
    logs = [math.log10(x) for x in lrs if x is not None and x > 0]
    if not logs:
        return None
    return round(max(logs) - min(logs), 12), round(statistics.pstdev(logs), 12)


@dataclass(frozen=True)
class Repeats:
    """R sweeps of the same model, seeds seed, seed + 1, ...

    Attributes:
        runs: each repeat's result, in seed order.
        median_lr: the median of the headline suggestions (log space).
        spread_decades: max - min of their log10; std_decades: their std.
        shown: the index of the repeat whose curve is the result's history
            (the one whose suggestion is nearest the median).
    """

    runs: list[SweepResult]
    median_lr: float | None
    spread_decades: float | None
    std_decades: float | None
    shown: int

    @property
    def seeds(self) -> list[int]:
        return [r.config.seed for r in self.runs]

    @property
    def lrs(self) -> list[float | None]:
        """Each repeat's headline suggestion."""
        return [r.suggested_lr for r in self.runs]

    @property
    def stable(self) -> bool | None:
        """Within STABLE_DECADES; None when fewer than two repeats gave a suggestion."""
        if sum(x is not None for x in self.lrs) < 2 or self.spread_decades is None:
            return None
        return self.spread_decades <= STABLE_DECADES

    def stability(self) -> str:
        """One plain sentence on how far the repeats agree."""
        n = len(self.runs)
        got = [x for x in self.lrs if x is not None]
        missing = "" if len(got) == n else f"; {n - len(got)} of {n} gave no suggestion"
        if self.stable is None:
            return f"Stability unknown: only {len(got)} of {n} repeats gave a suggestion"
        lo, hi = min(got), max(got)
        span = f"({lo:.3g} to {hi:.3g}, median {self.median_lr:.3g}{missing})"
        if self.stable:
            return f"Stable: {len(got)} repeats within {self.spread_decades:.2f} decades {span}"
        return (
            f"Unstable: {len(got)} repeats spread over {self.spread_decades:.2f} decades {span}: "
            "the suggestion depends on the seed and data order; prefer the lower end, or "
            "steady the curve with a larger batch, --val-batches or more --repeats"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report: every repeat's history and suggestions too."""
        return {
            "count": len(self.runs),
            "seeds": self.seeds,
            "suggested_lrs": self.lrs,
            "median_lr": self.median_lr,
            "spread_decades": self.spread_decades,
            "std_decades": self.std_decades,
            "stable": self.stable,
            "stability": self.stability(),
            "shown": self.shown,
            "runs": [
                {
                    "seed": r.config.seed,
                    "suggested_lr": r.suggested_lr,
                    "suggestions": {name: s.lr for name, s in r.suggestions.items()},
                    "stop_reason": r.stop_reason,
                    "steps_run": r.steps_run,
                    "history": r.history.to_dict(),
                }
                for r in self.runs
            ],
        }


def combine(runs: list[SweepResult], config: SweepConfig) -> SweepResult:
    """One result from the repeats: every method's median, the nearest repeat's curve."""
    from lrfind.suggest import Suggestion, nearest_index

    headline = [r.suggestions[config.method].lr for r in runs]
    median = median_lr(headline)
    spread = spread_decades(headline)
    # The repeat nearest the median; repeats without a suggestion (None) are never it.
    shown = 0 if median is None else nearest_index(headline, median) or 0
    base = runs[shown]
    suggestions = {}
    for name, own in base.suggestions.items():
        lr = median_lr([r.suggestions[name].lr for r in runs])
        if lr is None:
            suggestions[name] = Suggestion(name, None, reason=own.reason or "no repeat gave one")
        else:
            suggestions[name] = Suggestion(name, lr, nearest_index(base.history.lrs, lr))
    repeats = Repeats(runs, median, *(spread or (None, None)), shown=shown)
    return dataclasses.replace(
        base,
        suggestions=suggestions,
        config=config,
        sweep_s=sum(r.sweep_s for r in runs),
        repeats=repeats,
    )

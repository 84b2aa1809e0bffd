"""--repeats: several sweeps with different seeds, one median suggestion, its spread.

Plain math over floats (log10 of the suggestions), over one small record per
repeat; lrfind.core.result.combine folds the repeats' results into one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrfind.core.history import History, StopReason

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
class RepeatRun:
    """One repeat: its seed, its suggestions and the curve it recorded."""

    seed: int
    #: The headline method's suggestion (None when it made none).
    suggested_lr: float | None
    #: Every method's suggested LR, by name.
    suggestions: Mapping[str, float | None]
    history: History
    #: The lowest loss of the curve the suggestion read, and the LR where it was.
    min_loss: float | None = None
    min_lr: float | None = None

    @property
    def stop_reason(self) -> StopReason:
        return self.history.stop_reason

    @property
    def steps_run(self) -> int:
        return self.history.steps_run


@dataclass(frozen=True)
class Repeats:
    """R sweeps of the same model, seeds seed, seed + 1, ...

    Attributes:
        runs: each repeat's record, in seed order.
        median_lr: the median of the headline suggestions (log space).
        spread_decades: max - min of their log10; std_decades: their std.
        shown: the index of the repeat whose curve is the result's history
            (the one whose suggestion is nearest the median).
    """

    runs: list[RepeatRun]
    median_lr: float | None
    spread_decades: float | None
    std_decades: float | None
    shown: int

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

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

    def preferred(self) -> tuple[float, int] | None:
        """(LR, seed) to prefer when the repeats disagree; None without suggestions.

        The repeat whose curve went lowest: the others stopped sooner or fell less (a
        noisy stretch, a spike, an unlucky data order), so its minimum is the better
        measured one. Its suggestion is kept only where every repeat's loss is still
        falling (below every repeat's minimum LR); past one, the highest suggestion that
        is, else the lowest: above a minimum, some data order already blows up.
        """
        runs = [(r.suggested_lr, r) for r in self.runs if r.suggested_lr is not None]
        if not runs:
            return None
        measured = [(r.min_loss, lr, r) for lr, r in runs if _finite(r.min_loss)]
        lr, pick = min(measured, key=lambda t: t[0])[1:] if measured else runs[0]
        ceiling = min((r.min_lr for _, r in runs if r.min_lr is not None), default=math.inf)
        if lr < ceiling:
            return lr, pick.seed
        safe = [(x, r) for x, r in runs if x < ceiling]
        lr, pick = max(safe, key=lambda t: t[0]) if safe else min(runs, key=lambda t: t[0])
        return lr, pick.seed

    def stability(self) -> str:
        """One plain sentence on how far the repeats agree."""
        n = len(self.runs)
        got = [x for x in self.lrs if x is not None]
        missing = "" if len(got) == n else f"; {n - len(got)} of {n} gave no suggestion"
        if n < 2:  # --repeats R asks for R >= 2: the others were cut short by Ctrl-C
            return f"Stability unknown: only {n} repeat finished before the interrupt"
        if self.stable is None:
            return f"Stability unknown: only {len(got)} of {n} repeats gave a suggestion"
        lo, hi = min(got), max(got)
        span = f"({lo:.3g} to {hi:.3g}, median {self.median_lr:.3g}{missing})"
        if self.stable:
            return f"Stable: {len(got)} repeats within {self.spread_decades:.2f} decades {span}"
        prefer = self.preferred()
        advice = ""
        if prefer is not None:
            advice = (
                f"prefer {prefer[0]:.3g} (seed {prefer[1]}: its curve fell furthest, and every "
                "repeat's loss is still falling there), or "
            )
        return (
            f"Unstable: {len(got)} repeats spread over {self.spread_decades:.2f} decades {span}: "
            f"the suggestion depends on the seed and data order; {advice}"
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
            "preferred_lr": None if (p := self.preferred()) is None else p[0],
            "shown": self.shown,
            "runs": [
                {
                    "seed": r.seed,
                    "suggested_lr": r.suggested_lr,
                    "suggestions": dict(r.suggestions),
                    "stop_reason": r.stop_reason,
                    "steps_run": r.steps_run,
                    "history": r.history.to_dict(),
                }
                for r in self.runs
            ],
        }


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)

"""Replaying a range test's stop rule and suggestion on recorded raw losses.

A sweep's raw losses up to its stop point do not depend on the stop rule, so a
sweep run past divergence can be cut and scored offline under any smoothing,
threshold, grace period or trimming: every variant of `min_div_10` is judged
on the very same curves. With lrfind's defaults, the replay is lrfind's own
computation (its Ema, DivergenceRule and suggestion functions).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from lrfind.config.settings import SweepConfig
from lrfind.core.curve import END_TRIM, DivergenceRule, Ema, edges, grace_steps
from lrfind.core.suggest import suggest_all
from lrfind.core.uncertainty import Uncertainty, assess

DEFAULTS = SweepConfig()


class _UncorrectedEma:
    """An EMA without bias correction: started at 0 (fastai's old bug) or at the first value."""

    def __init__(self, smoothing: float, start: str) -> None:
        self.weight, self.start, self.avg = smoothing, start, None

    def update(self, value: float) -> float:
        if not math.isfinite(value):
            return math.nan
        if self.avg is None:
            self.avg = value if self.start == "first" else 0.0
            if self.start == "first":
                return value
        self.avg = (1 - self.weight) * self.avg + self.weight * value
        return self.avg


def cut(
    lrs: Sequence[float],
    raw: Sequence[float],
    planned: int,
    smoothing: float = DEFAULTS.smoothing,
    bias: str = "corrected",
    threshold: float = 4.0,  # lrfind 0.1's ratio rule (now --diverge-threshold 4)
    grace: int | None = None,
    stop_median: int | None = None,
) -> tuple[list[float], list[float], str]:
    """(lrs, smoothed losses, stop reason) of the curve as a sweep with these settings records it.

    `stop_median` k: the stop rule watches the median of the last k raw losses
    instead of the smoothed loss.
    """
    ema = Ema(smoothing) if bias == "corrected" else _UncorrectedEma(smoothing, bias)
    rule = DivergenceRule(threshold, grace_steps(planned) if grace is None else grace)
    xs: list[float] = []
    ys: list[float] = []
    for i, (lr, value) in enumerate(zip(lrs, raw, strict=False)):
        smoothed = ema.update(value)
        xs.append(lr)
        ys.append(smoothed)
        watched = smoothed
        if stop_median and math.isfinite(value):
            watched = statistics.median(raw[max(0, i - stop_median + 1) : i + 1])
        if stop := rule.update(value, watched):
            return xs, ys, stop
    return xs, ys, "completed"


def methods_on(lrs: Sequence[float], raw: Sequence[float], planned: int) -> dict[str, float | None]:
    """Every lrfind method's suggestion on the curve cut with lrfind's defaults."""
    xs, ys, _ = cut(lrs, raw, planned)
    return {name: s.lr for name, s in suggest_all(xs, ys).items()}


def uncertainty_on(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Uncertainty:
    """lrfind's uncertainty of its default suggestion on the curve cut with its defaults."""
    xs, ys, stop = cut(lrs, raw, planned)
    return assess(xs, ys, suggest_all(xs, ys), stop)


def replay(
    lrs: Sequence[float],
    raw: Sequence[float],
    planned: int,
    *,
    trim: tuple[float, int] | None = None,
    end_trim: int = END_TRIM,
    at_end: str = "divide",
    divisor: float = 10.0,
    centred: float | None = None,
    lag_shift: bool = False,
    min_smoothing: float | None = None,
    **cut_settings: Any,
) -> float | None:
    """The min-divided suggestion of one variant: its cut, its trimming, its end rule.

    `centred` finds the minimum on a zero-phase smoothing of the raw losses
    (the bias-corrected EMA run forwards, then backwards, with that weight)
    instead of the sweep's causal EMA; `lag_shift` moves the causal EMA's
    minimum back by the EMA's mean lag, (1 - w) / w steps.
    """
    xs, ys, stop = cut(lrs, raw, planned, **cut_settings)
    if centred is not None:
        ys = _zero_phase(list(raw[: len(xs)]), centred)
    if min_smoothing is not None:  # stop by the sweep's EMA, find the minimum on a lighter one
        ema = Ema(min_smoothing)
        ys = [ema.update(v) for v in raw[: len(xs)]]
    n = len(xs)
    if trim is None and end_trim == END_TRIM:
        lo, hi = edges(n)  # lrfind's own window
    else:
        lo = min(n // 10, 10) if trim is None else min(int(n * trim[0]), trim[1])
        hi = n - end_trim if n - end_trim - lo >= 2 else n
    window = [i for i in range(lo, hi) if math.isfinite(ys[i])]
    if len(window) < 2:
        return None
    best = min(window, key=ys.__getitem__)
    if lag_shift:
        w = cut_settings.get("smoothing", DEFAULTS.smoothing)
        best = max(window[0], best - round((1 - w) / w)) if w > 0 else best
    if at_end == "none" and stop == "completed" and best == window[-1]:
        return None  # the loss was still falling at the end: no minimum seen
    return max(xs[best] / divisor, xs[0])


def _zero_phase(raw: list[float], weight: float) -> list[float]:
    ema = Ema(weight)
    forward = [ema.update(v) for v in raw]
    ema = Ema(weight)
    backward = [ema.update(v) for v in reversed(forward)]
    return backward[::-1]


# One factor at a time around lrfind's defaults (no smoothing, threshold 4, grace
# max(3, steps // 20), trim min(10%, 10) points at the start and 3 at the end,
# divide by 10); "0.1 default" is lrfind 0.1's rule (EMA 0.05, trim 1 at the end).
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "0.1 default (smoothing=0.05,trim_end=1)": {"smoothing": 0.05, "end_trim": 1},
    **{f"smoothing={w}": {"smoothing": w} for w in (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7)},
    "smoothing=0.05,bias=from_zero": {"smoothing": 0.05, "bias": "zero"},
    "smoothing=0.05,bias=from_first": {"smoothing": 0.05, "bias": "first"},
    **{f"threshold={t:g}": {"threshold": t} for t in (2.0, 3.0, 5.0, 10.0)},
    **{f"grace={g}": {"grace": g} for g in (0, 10, 20)},
    "trim_start=0": {"trim": (0.0, 0)},
    "trim_start=5%": {"trim": (0.05, 5)},
    "trim_start=20%": {"trim": (0.2, 20)},
    **{f"trim_end={k}": {"end_trim": k} for k in (0, 1, 5)},
    "min_at_end=none": {"at_end": "none"},
    # Stop by a smoother curve (robust to noisy batches), find the minimum on the raw losses.
    **{
        f"stop on EMA {w}, minimum on raw": {"smoothing": w, "min_smoothing": 0.0}
        for w in (0.05, 0.3)
    },
    "stop on median of 3, minimum on raw": {"stop_median": 3},
    # Undoing the EMA's lag instead of dropping it.
    "smoothing=0.05,centred=0.2": {"smoothing": 0.05, "centred": 0.2},
    "smoothing=0.05,lag_shift": {"smoothing": 0.05, "lag_shift": True},
    # The divisor is the product's promise (one decade); these show what it costs.
    **{f"divisor={d:g}": {"divisor": d} for d in (3.0, 30.0)},
}

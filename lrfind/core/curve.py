"""The pure math of a range test: the LR schedule, smoothing and the stop rule.

No torch, no numpy: plain floats, so every piece is exact and easy to test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def lr_at(step: int, start: float, end: float, steps: int, mode: str = "exp") -> float:
    """The LR of `step` (0-based) in a sweep of `steps` steps; both ends included.

    >>> [round(lr_at(i, 1e-5, 0.1, 5), 12) for i in range(5)]
    [1e-05, 0.0001, 0.001, 0.01, 0.1]
    """
    if step == steps - 1:
        return float(end)  # exactly, whatever the rounding of the power below
    t = step / (steps - 1)
    if mode == "exp":
        return start * (end / start) ** t
    return start + (end - start) * t


def lr_schedule(start: float, end: float, steps: int, mode: str = "exp") -> list[float]:
    """Every LR of the sweep, first to last."""
    return [lr_at(i, start, end, steps, mode) for i in range(steps)]


class Ema:
    """Exponential moving average with bias correction.

    `smoothing` is the weight of the newest value (0 turns smoothing off). An
    EMA started at 0 is biased towards 0 for its first steps, which would put a
    false minimum at the start of the curve; dividing by 1 - beta**n removes
    that bias, so a constant input gives that constant back from the first step.
    Non-finite inputs give NaN and leave the average as it was.
    """

    def __init__(self, smoothing: float) -> None:
        self.weight = smoothing
        self.beta = 1.0 - smoothing
        self.avg = 0.0
        self.count = 0

    def update(self, value: float) -> float:
        if not math.isfinite(value):
            return math.nan
        if self.weight == 0:
            return value
        self.count += 1
        self.avg = self.beta * self.avg + self.weight * value
        # 1 - beta**count, computed so that it stays exact for tiny weights
        # (where 1 - weight rounds to 1.0 and the plain form divides by zero).
        return self.avg / -math.expm1(self.count * math.log1p(-self.weight))


def smooth(values: Iterable[float], smoothing: float) -> list[float]:
    """Bias-corrected EMA of a whole curve (see Ema)."""
    ema = Ema(smoothing)
    return [ema.update(float(v)) for v in values]


def grace_steps(steps: int) -> int:
    """Steps at the start during which the divergence rule is not applied.

    The first few smoothed values rest on one or two batches; a single noisy
    batch must not end the sweep before it has started.
    """
    return min(steps, max(3, steps // 20))


class DivergenceRule:
    """Decides, point by point, when a sweep should stop.

    Stops at once on a non-finite loss ("nan"); after the grace period, stops
    when the smoothed loss rises above `threshold` x its best ("diverged").
    That ratio only means something for positive losses, so when the best
    smoothed loss is <= 0 the rise is measured against the larger of |best|
    and how far the curve has come down to it from the highest value before
    it (not from the first value: with little or no smoothing the first point
    is one noisy batch); a loss that sits at 0 from the start therefore never
    triggers a stop.
    """

    def __init__(self, threshold: float, grace: int) -> None:
        self.threshold = threshold
        self.grace = grace
        self.best = math.inf
        self.high = -math.inf  # the highest smoothed loss so far
        self.high_before_best = math.nan
        self.seen = 0

    def update(self, raw: float, smoothed: float) -> str | None:
        """Feed one point; return "nan", "diverged" or None (keep going)."""
        self.seen += 1
        if not (math.isfinite(raw) and math.isfinite(smoothed)):
            return "nan"
        self.high = max(self.high, smoothed)
        if smoothed < self.best:
            self.best = smoothed
            self.high_before_best = self.high
            return None
        if self.seen <= self.grace:
            return None
        best = self.best
        if best > 0:
            return "diverged" if smoothed > self.threshold * best else None
        scale = max(-best, self.high_before_best - best)
        if scale > 0 and smoothed - best > (self.threshold - 1.0) * scale:
            return "diverged"
        return None


END_TRIM = 3  # the stop point and the two before it (measured: benchmarks/quality.py)


def edges(n: int) -> tuple[int, int]:
    """The [lo, hi) window of a curve of n points that suggestions look at.

    The first points are the loss before the LR has any effect, resting on
    one or two batches: up to 10% of them (at most 10) are trimmed. At the
    other end go the stop point and the two points before it: the model is
    already blowing up there, and a lucky batch among them is a false minimum
    (on the quality benchmark's suite, trimming 3 points instead of 1 cut the
    mean regret of min_div_10 from 28% to 14%).
    """
    lo = min(n // 10, 10)
    trim = min(END_TRIM, max(n - lo - 2, 0))  # short curves keep at least 2 points
    return (lo, n - trim) if n - trim - lo >= 2 else (0, n)

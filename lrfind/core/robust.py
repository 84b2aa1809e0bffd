"""The robust rule's stop and curve: one batch cannot trip it, and its minimum has no lag.

Plain floats, no numpy: the stop rule runs inside the sweep loop, one raw loss per step.

- `RobustStop` watches the rolling median of the last `window` raw losses (one batch, or
  two in a row, cannot move a median of 5 past its neighbours) against the best such
  median so far. It fires when the median has risen above that best by `k` robust noise
  scales (the noise as it was when the best was set: an explosion's own large steps must
  not raise the bar it has to clear) and by at least `fraction` of the way back up to
  where the curve started. The rise is a difference, never a ratio, so it means the same
  for a loss near 0 and for a negative loss. A non-finite loss stops at once.
- `robust_curve` is the offline curve the suggestion reads, computed once after the sweep:
  a centred running median, then a centred running mean. Centred, so the minimum stays
  where it is (an EMA lags by (1 - w) / w steps).

The defaults in `RobustRule` are rule "v2" (benchmarks/results/rule-v2.json): k, window,
noise_window and grace from pure-noise plateaus (benchmarks/quality_null.py), the rest chosen
by benchmarks/quality_tune_v2.py on all 39 suite tasks, frozen, then judged against v1 on a
fresh holdout by a decision written down before scoring (docs/quality.md). `V1` is the
previous default (chosen on the tuning half only). benchmarks/rules.py is the frozen
prototype of both; tests/test_robust_replay.py keeps the two equal.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

# median |x_i - x_j| of two independent N(0, s^2) draws is 0.6745 * sqrt(2) * s: this turns it
# into s, the standard deviation of the noise.
GAUSS_MAD_DIFF = 1.0 / (0.6744897501960817 * math.sqrt(2.0))
# sqrt(pi / 2): the standard deviation of the median of n Gaussian draws is about
# 1.2533 * s / sqrt(n).
MEDIAN_SD = 1.2533


@dataclass(frozen=True)
class RobustRule:
    """The robust rule's parameters (the defaults are lrfind's default rule, v2).

    `k`, `fraction` and `divisor` are settings (`stop_k`, `stop_fraction`, `divisor`);
    the rest are fixed and recorded in the report's `rule` key.
    """

    window: int = 5  # the rolling median of the stop rule
    noise_window: int = 20  # differences per block of the noise scale
    k: float = 12.0  # noise scales above the best median that stop the sweep
    fraction: float = 1.0  # ... and at least this fraction of the way back to the start
    grace: int = 10  # points before the rule may fire (2 x window); a NaN stops at once
    median_width: int = 3  # the robust curve: centred median of this many points,
    mean_width: int = 9  # then a centred mean of this many
    start_trim: float = 0.05  # share of the points at the start the minimum is not looked for in
    end_trim: int = 0  # points before the stop the minimum is not looked for in
    method: str = "bottom"  # "bottom": the left edge of the minimum's basin; "min": the minimum
    bottom_z: float = 0.5  # "bottom": the edge is where the curve is this many noise scales
    # above its minimum (log-interpolated; at most the descent's depth above it)
    divisor: float = 5.0  # the suggestion: that LR / divisor
    hi_snr: float = 48.0  # confidence "high" needs a descent this many noise scales deep
    lo_snr: float = 6.0  # ... below this many it is "low"
    sharp_decades: float = 0.75  # a basin narrower than this (decades) is a sharp minimum

    def __post_init__(self) -> None:
        if self.method not in ("bottom", "min"):
            raise ValueError(f'RobustRule.method must be "bottom" or "min", not {self.method!r}')

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the report."""
        return {"name": "robust", **asdict(self)}


#: The previous default (v1): the robust curve's minimum / 5, chosen on the tuning half only.
V1 = RobustRule(
    fraction=0.25,
    median_width=11,
    mean_width=3,
    method="min",
    bottom_z=1.0,  # unused by "min"; the prototype's value, so V1 is its Rule() field by field
    hi_snr=8.0,
    sharp_decades=1.0,
)


class _SortedWindow:
    """The last `size` values, also kept sorted: median in O(1), update in O(size)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def push(self, value: float) -> None:
        self.order.append(value)
        bisect.insort(self.sorted, value)
        if len(self.order) > self.size:
            del self.sorted[bisect.bisect_left(self.sorted, self.order.popleft())]

    def __len__(self) -> int:
        return len(self.order)

    def median(self) -> float:
        return median_sorted(self.sorted)


def median_sorted(s: Sequence[float]) -> float:
    """The median of an already sorted sequence (0.0 when empty)."""
    n = len(s)
    if n == 0:
        return 0.0
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


class _Scale:
    """A robust, stable scale of a stream of absolute differences: the median of the medians
    of its consecutive blocks of `size` values (the partial first block's median until then).

    A median of block medians hardly moves when an explosion fills the last block or two,
    and it rests on the whole curve so far, not on its last few steps.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.block: list[float] = []
        self.medians: list[float] = []  # sorted

    def push(self, value: float) -> None:
        self.block.append(value)
        if len(self.block) == self.size:
            bisect.insort(self.medians, median_sorted(sorted(self.block)))
            self.block.clear()

    def value(self) -> float:
        mid = median_sorted(self.medians) if self.medians else median_sorted(sorted(self.block))
        return GAUSS_MAD_DIFF * mid

    def settled(self) -> bool:
        return bool(self.medians)


class RobustStop:
    """The online stop rule: `update(raw, smoothed)` per step returns "nan", "diverged" or None.

    Only the raw loss is read (the signature matches lrfind.core.curve.DivergenceRule).
    The noise of the rolling median is the larger of two estimates, both in units of the
    median's own standard deviation: from the medians' differences `window` steps apart
    (right when successive losses are correlated), and from the raw batch-to-batch
    differences x 1.2533 / sqrt(window) (right for independent batches).
    """

    def __init__(self, rule: RobustRule) -> None:
        self.rule = rule
        self.losses = _SortedWindow(rule.window)
        self.medians: deque[float] = deque(maxlen=rule.window)
        self.raw_scale = _Scale(rule.noise_window)
        self.median_scale = _Scale(rule.noise_window)
        self.previous = math.nan
        self.seen = 0
        self.first = math.nan  # the first full-window median: where the curve started
        self.best = math.inf
        self.noise_at_best = 0.0
        self.best_index = -1

    def noise(self) -> float:
        """The rolling median's noise scale now."""
        from_raw = self.raw_scale.value() * MEDIAN_SD / math.sqrt(self.rule.window)
        return max(from_raw, self.median_scale.value())

    def update(self, raw: float, smoothed: float | None = None) -> str | None:
        """Feed one raw loss; return "nan", "diverged" or None (keep going)."""
        self.seen += 1
        if not math.isfinite(raw):
            return "nan"
        if math.isfinite(self.previous):
            self.raw_scale.push(abs(raw - self.previous))
        self.previous = raw
        self.losses.push(raw)
        if len(self.losses) < self.rule.window:
            return None
        m = self.losses.median()
        if len(self.medians) == self.rule.window:
            self.median_scale.push(abs(m - self.medians[0]))
        self.medians.append(m)
        if math.isnan(self.first):
            self.first = m
        if m < self.best:
            self.best, self.noise_at_best, self.best_index = m, self.noise(), self.seen - 1
            return None
        if not self.median_scale.settled():  # estimates from a few differences: let them grow
            self.noise_at_best = max(self.noise_at_best, self.noise())
        if self.seen <= self.rule.grace:
            return None
        rise = max(self.rule.k * self.noise_at_best, self.rule.fraction * (self.first - self.best))
        return "diverged" if m - self.best > rise else None


def replay(raw: Sequence[float], rule: RobustRule) -> tuple[int, str, RobustStop]:
    """(points the sweep keeps, stop reason, the rule's state) for a raw curve fed in order."""
    stop = RobustStop(rule)
    for i, v in enumerate(raw):
        if reason := stop.update(v):
            return i + 1, reason, stop
    return len(raw), "completed", stop


def centred(values: Sequence[float], width: int, how: str) -> list[float]:
    """Centred running median ("median") or mean ("mean"); the window shrinks symmetrically
    near the ends, so the first and last points stay themselves."""
    if width <= 1:
        return list(values)
    half, n, out = width // 2, len(values), []
    for i in range(n):
        h = min(half, i, n - 1 - i)
        part = values[i - h : i + h + 1]
        if how == "mean":
            out.append(sum(part) / len(part))
        else:
            out.append(median_sorted(sorted(part)))
    return out


def robust_curve(raw: Sequence[float], rule: RobustRule) -> list[float]:
    """The offline robust curve of finite losses: centred median, then centred mean."""
    return centred(centred(list(raw), rule.median_width, "median"), rule.mean_width, "mean")

"""A robust range-test rule (the prototype of lrfind's next default), in plain Python.

Three parts, each a pure function or a small class over plain floats:

1. `RobustStop`, the online stop rule, fed one raw loss per step inside the
   sweep loop. It watches the rolling median of the last `window` raw losses
   (one batch cannot move a median of 5 past its neighbours), and a robust
   noise scale: the median absolute step-to-step difference of the raw losses
   over the last `noise_window` steps (x 1.048, which makes it the standard
   deviation of Gaussian noise). The stop fires when the median rises above
   its best value by `k` noise scales, the noise taken as it was when that
   best was set (an explosion's own large differences must not raise the bar
   it has to clear), and by at least `fraction` of the way back up from the
   best to where the curve started. Additive, never a ratio: it means the same
   for a loss near 0 and for a negative loss. A non-finite loss stops at once.
   Per step: two sorted windows updated by bisection, O(window) list moves.

2. `robust_curve`, the offline smoother, run once after the sweep: a centred
   running median (width `median_width`) then a centred running mean (width
   `mean_width`); centred, so it has no lag, unlike an EMA.

3. `suggest`: on the robust curve, the minimum inside the window (the first
   `start_trim` fraction and the last `end_trim` points left out), the
   suggestion = its LR / `divisor`; schedule bounds where the robust curve
   starts falling and where it stops falling; and a confidence.

`Rule` holds every parameter; its defaults are v1 (`V1`, chosen on the tuning half of
benchmarks/quality_suite.py by benchmarks/quality_tune.py, lrfind's default until round 2);
`V2` is round 2's rule (benchmarks/results/rule-v2.json, chosen by quality_tune_v2.py, judged
on quality_holdout.py), lrfind's shipped default, and `DEFAULT` is the shipped one.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

GAUSS_MAD_DIFF = 1.0 / (0.6744897501960817 * math.sqrt(2.0))  # median |x_i - x_j| -> sigma


@dataclass(frozen=True)
class Rule:
    """Every parameter of the robust rule; the defaults are v1's (see the module doc).

    Fixed from first principles and the pure-noise simulation (benchmarks/quality_null.py),
    before any regret was looked at: window, noise_window, k, grace, noise. Chosen on the
    tuning half by benchmarks/quality_tune.py: fraction (tied; the earliest stop), the
    smoother, the trims (tied), method and divisor (lowest mean regret), then the
    confidence thresholds (widest regret gap between "low" and "high").
    """

    window: int = 5  # the stop rule's rolling median: no batch, nor two in a row, moves it
    noise_window: int = 20  # differences per block of the noise scale
    k: float = 12.0  # noise scales above the best median that stop the sweep (null sim.)
    fraction: float = 0.25  # ... and at least this fraction of the way back to the start
    grace: int = 10  # points before the rule may fire: 2 x window (a NaN stops at once)
    noise: str = "both"  # the noise scale: "both" (the larger), "median_diff" or "raw_diff"
    median_width: int = 11  # the offline robust curve: centred median, then
    mean_width: int = 3  # centred mean
    start_trim: float = 0.05  # fraction of the points left out at the start
    end_trim: int = 0  # points before the stop left out
    method: str = "min"  # "min": LR of the minimum / divisor; "descent", "bottom": see below
    divisor: float = 5.0
    descent_level: float = 0.5  # "descent": the LR where the curve, left of its minimum, is
    # this fraction of the descent above the minimum (log-interpolated), / divisor
    bottom_z: float = 1.0  # "bottom": the left edge of the minimum's basin, where the curve
    # is `bottom_z` noise scales above its minimum (log-interpolated), / divisor
    hi_snr: float = 8.0  # confidence: descent depth in noise scales for "high"
    lo_snr: float = 6.0  # ... below this, "low"
    sharp_decades: float = 1.0  # a basin (within a quarter of the descent of the minimum)
    # narrower than this many decades is a sharp minimum: at most "medium"


class _SortedWindow:
    """The last `size` values, kept sorted too: median in O(1), update in O(size)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []

    def push(self, value: float) -> None:
        self.order.append(value)
        bisect.insort(self.sorted, value)
        if len(self.order) > self.size:
            old = self.order.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]

    def __len__(self) -> int:
        return len(self.order)

    def median(self) -> float:
        return _median_sorted(self.sorted)


def _median_sorted(s: list[float]) -> float:
    n = len(s)
    if n == 0:
        return 0.0
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


class _Scale:
    """A robust, stable scale of a stream of absolute differences: the median of the medians of
    its consecutive blocks of `size` values (the partial first block's median until then).

    A median of block medians hardly moves when an explosion fills the last block or two,
    and it rests on the whole curve so far, not on its last few steps. Per value: an append;
    per block: one sort of `size` values and one insertion.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.block: list[float] = []
        self.medians: list[float] = []  # sorted

    def push(self, value: float) -> None:
        self.block.append(value)
        if len(self.block) == self.size:
            bisect.insort(self.medians, _median_sorted(sorted(self.block)))
            self.block.clear()

    def value(self) -> float:
        mid = _median_sorted(self.medians) if self.medians else _median_sorted(sorted(self.block))
        return GAUSS_MAD_DIFF * mid

    def settled(self) -> bool:
        return bool(self.medians)


class RobustStop:
    """The online stop rule: `update(loss)` after each step returns "nan", "diverged" or None.

    The noise of the rolling median is the larger of two estimates, both in units of the
    median's own standard deviation: from the medians' differences `window` steps apart
    (disjoint windows; right when successive losses are correlated), and from the raw
    batch-to-batch differences x 1.2533 / sqrt(window) (many independent samples; right for
    independent batches).
    """

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.losses = _SortedWindow(rule.window)
        self.medians: deque[float] = deque(maxlen=rule.window)  # the last `window` medians
        self.raw_scale = _Scale(rule.noise_window)
        self.median_scale = _Scale(rule.noise_window)
        self.previous = math.nan
        self.seen = 0
        self.first = math.nan  # the first full-window median: where the curve started
        self.best = math.inf
        self.noise_at_best = 0.0
        self.best_index = -1

    def noise(self) -> float:
        from_raw = self.raw_scale.value() * 1.2533 / math.sqrt(self.rule.window)
        if self.rule.noise == "raw_diff":
            return from_raw
        if self.rule.noise == "median_diff":
            return self.median_scale.value()
        return max(from_raw, self.median_scale.value())

    def update(self, loss: float) -> str | None:
        self.seen += 1
        if not math.isfinite(loss):
            return "nan"
        if math.isfinite(self.previous):
            self.raw_scale.push(abs(loss - self.previous))
        self.previous = loss
        self.losses.push(loss)
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


def stop_point(raw: Sequence[float], rule: Rule) -> tuple[int, str, RobustStop]:
    """(points the sweep records, stop reason, the rule's final state) for a recorded raw curve."""
    stop = RobustStop(rule)
    for i, v in enumerate(raw):
        if reason := stop.update(v):
            return i + 1, reason, stop
    return len(raw), "completed", stop


def _centred(values: Sequence[float], width: int, how: str) -> list[float]:
    """Centred running median or mean; near the ends, the window shrinks symmetrically."""
    if width <= 1:
        return list(values)
    half, n, out = width // 2, len(values), []
    for i in range(n):
        h = min(half, i, n - 1 - i)
        part = values[i - h : i + h + 1]
        if how == "mean":
            out.append(sum(part) / len(part))
        else:
            s = sorted(part)
            out.append(
                s[len(s) // 2] if len(s) % 2 else 0.5 * (s[len(s) // 2 - 1] + s[len(s) // 2])
            )
    return out


def robust_curve(raw: Sequence[float], rule: Rule) -> list[float]:
    """The offline robust curve of the finite points: centred median, then centred mean."""
    return _centred(_centred(list(raw), rule.median_width, "median"), rule.mean_width, "mean")


@dataclass(frozen=True)
class Suggestion:
    """The rule's answer on one sweep."""

    lr: float | None
    points: int  # how many points the sweep recorded (where the stop rule cut it)
    stop: str
    confidence: str  # "high", "medium", "low"
    reasons: tuple[str, ...] = ()
    min_lr: float | None = None  # the LR of the robust curve's minimum
    falling_from: float | None = None  # schedule bounds: where the robust curve starts falling
    falling_to: float | None = None  # ... and where it stops falling (its minimum)
    detail: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Cut:
    """A recorded curve cut where the online rule stops (a final non-finite point dropped)."""

    xs: list[float]
    ys: list[float]
    points: int
    stop: str
    noise: float  # the rule's noise scale at its best median
    best_index: int


def cut(lrs: Sequence[float], raw: Sequence[float], rule: Rule) -> Cut:
    n, stop, state = stop_point(raw, rule)
    xs, ys = list(lrs[:n]), list(raw[:n])
    while ys and not math.isfinite(ys[-1]):  # the non-finite stop point carries no information
        xs.pop()
        ys.pop()
    return Cut(xs, ys, n, stop, state.noise_at_best, state.best_index)


def suggest(lrs: Sequence[float], raw: Sequence[float], rule: Rule = Rule()) -> Suggestion:
    """Cut the curve where the online rule stops, smooth it, and suggest (see the module doc)."""
    c = cut(lrs, raw, rule)
    if len(c.ys) < max(rule.window, 5):
        return Suggestion(
            None, c.points, c.stop, "low", ("no usable curve: too few finite points",)
        )
    return suggest_on(c, robust_curve(c.ys, rule), rule)


def suggest_on(c: Cut, curve: list[float], rule: Rule) -> Suggestion:
    """The suggestion, schedule bounds and confidence from a cut curve and its robust curve."""
    xs, n, stop = c.xs, c.points, c.stop
    lo = int(len(curve) * rule.start_trim)
    hi = len(curve) - rule.end_trim if stop != "completed" else len(curve)
    if hi - lo < 3:
        lo, hi = 0, len(curve)
    best = min(range(lo, hi), key=curve.__getitem__)
    noise = c.noise
    # Where the curve starts: the median of the robust curve's first tenth (at least 3 points).
    start_level = _median_sorted(sorted(curve[lo : lo + max(3, (hi - lo) // 10)]))
    depth = start_level - curve[best]
    snr = depth / noise if noise > 0 else (math.inf if depth > 0 else 0.0)
    if not depth > 0:
        return Suggestion(None, n, stop, "low", ("no usable curve: the loss never falls below "
                          "where it started",), detail={"snr": snr})  # fmt: skip
    # Where it starts falling: the last point before the minimum still within a tenth of
    # the descent of the start level (scanning back from the minimum).
    falls = best
    while falls > lo and curve[falls - 1] < start_level - 0.1 * depth:
        falls -= 1
    at = xs[best]
    if rule.method == "descent":
        at = _crossing(xs, curve, lo, best, curve[best] + rule.descent_level * depth)
    elif rule.method == "bottom":
        at = _crossing(xs, curve, lo, best, curve[best] + min(rule.bottom_z * noise, depth))
    lr = max(at / rule.divisor, xs[0])
    # The minimum's basin: the points around it within a quarter of the descent of it.
    left = right = best
    while left > lo and curve[left - 1] <= curve[best] + 0.25 * depth:
        left -= 1
    while right < len(curve) - 1 and curve[right + 1] <= curve[best] + 0.25 * depth:
        right += 1
    basin = math.log10(xs[right] / xs[left])
    reasons = []
    if basin < rule.sharp_decades:
        spans = f"spans {basin:.2f} decades" if basin >= 0.005 else "is one point"
        reasons.append(f"a sharp minimum: its basin {spans}")
    if snr < rule.lo_snr:
        # 98% of flat plateaus of pure noise dip less than lo_snr (quality_null.py --snr).
        dip = f"only {snr:.1f}x its noise, a dip noise alone can make"
        reasons.append(f"noisy curve: the descent is {dip}")
    elif snr < rule.hi_snr:
        reasons.append("the descent is moderate against the noise")
    if best >= hi - 3 and stop != "completed":
        reasons.append("the minimum is at the edge of the stop")
    if hi < len(curve) and min(range(lo, len(curve)), key=curve.__getitem__) >= hi:
        reasons.append("the lowest point is in the trimmed tail")
    if stop == "completed" and best >= hi - 3:
        reasons.append("the loss was still falling at the end of the sweep")
    level = "high"
    if snr < rule.lo_snr or any("still falling" in r for r in reasons):
        level = "low"
    elif reasons:
        level = "medium"
    return Suggestion(lr, n, stop, level, tuple(reasons), xs[best], xs[falls], xs[best],
                      {"snr": snr, "min_index": best, "noise": noise, "depth": depth,
                       "basin_decades": basin})  # fmt: skip


def _crossing(xs: list[float], curve: list[float], lo: int, best: int, level: float) -> float:
    """The LR where the curve, walking left from `best`, first reaches `level` (log-interpolated)."""
    j = best
    while j > lo and curve[j - 1] < level:
        j -= 1
    if j == lo:
        return xs[lo]
    a, b = curve[j - 1], curve[j]  # a >= level > b
    t = (a - level) / (a - b) if a > b else 0.0
    return math.exp(math.log(xs[j - 1]) + t * (math.log(xs[j]) - math.log(xs[j - 1])))


def _frozen(name: str) -> Rule:
    path = Path(__file__).resolve().parent / "results" / f"rule-{name}.json"
    return Rule(**json.loads(path.read_text())["rule"])


V1 = Rule()
V2 = _frozen("v2")
DEFAULT = V2  # lrfind's shipped default (tests/test_robust_replay.py checks the two agree)

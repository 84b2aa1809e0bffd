"""The default suggestion: the left edge of the robust curve's minimum's basin / divisor,
its schedule bounds and confidence.

Pure and torch-free. `robust_answer` takes what the sweep recorded (it already ends where
the stop rule fired), replays the stop rule over it for the noise scale it measured, and
reads the robust curve (lrfind.core.robust):

- the minimum, looked for past the first `start_trim` share of the points (the loss before
  the LR has any effect) and, after a stop, before the last `end_trim` points;
- the suggestion (method "bottom", the default): walking left from the minimum, the LR
  where the curve first is `bottom_z` noise scales above it (log-interpolated between the
  two points around that level; at most the whole descent above it), / `divisor`. The
  minimum of a long flat bottom sits wherever the noise put it; its left edge does not.
  Method "min" (v1): the LR of the minimum / `divisor`. None when the suggestion lies
  below the first LR (the curve says nothing there);
- the schedule bounds: where the curve starts falling (the last point before the minimum
  still within a tenth of the descent of the start level) and where it stops (the minimum);
- a confidence from what the rule measured: the descent's depth in noise scales, the width
  of the minimum's basin, a minimum at the edge of the stop or in the trimmed tail, a loss
  still falling at the end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from lrfind.core.robust import RobustRule, median_sorted, replay, robust_curve

DEFAULT_RULE = RobustRule()
NO_CURVE = "no usable curve"  # how every reason for a missing suggestion starts
# The fix when the curve is too short because the sweep was interrupted: no setting is it.
RERUN_FIX = "rerun it and let it run"
RERUN = f"the sweep was interrupted before that: {RERUN_FIX}"
BASIN = 0.25  # the minimum's basin: the points within this share of the descent of it
FALLS = 0.1  # the curve "starts falling" once it is this share of the descent below its start


@dataclass(frozen=True)
class RobustAnswer:
    """The robust rule's answer on one sweep.

    Attributes:
        lr: the suggestion, or None (then `reasons[0]` starts with "no usable curve").
        curve: the robust curve, one value per recorded point (NaN where the loss was not
            finite).
        min_index: the recorded point at the curve's minimum (None without a suggestion).
        falling_from, falling_to: LRs where the curve starts and stops falling.
        confidence: "high", "medium" or "low"; reasons: what lowered it.
        detail: the measured features (snr: descent / noise; basin_decades; noise; depth).
    """

    lr: float | None
    curve: list[float]
    confidence: str = "low"
    reasons: tuple[str, ...] = ()
    min_index: int | None = None
    falling_from: float | None = None
    falling_to: float | None = None
    detail: dict[str, float] = field(default_factory=dict)


def robust_answer(
    lrs: Sequence[float],
    raw: Sequence[float],
    stop: str,
    rule: RobustRule = DEFAULT_RULE,
    smoothed: Sequence[float] | None = None,
) -> RobustAnswer:
    """The robust rule's suggestion on a recorded curve that ended with `stop`.

    `smoothed` (an EMA, with --smoothing) replaces the robust curve as the curve read;
    the noise scale still comes from the raw losses.
    """
    n = min(len(lrs), len(raw), len(smoothed) if smoothed is not None else len(raw))
    ok = [math.isfinite(raw[i]) and lrs[i] > 0 for i in range(n)]
    if smoothed is not None:
        ok = [k and math.isfinite(smoothed[i]) for i, k in enumerate(ok)]
    keep = [i for i in range(n) if ok[i]]
    xs, ys = [float(lrs[i]) for i in keep], [float(raw[i]) for i in keep]
    curve = robust_curve(ys, rule) if smoothed is None else [float(smoothed[i]) for i in keep]
    full = [math.nan] * n
    for i, v in zip(keep, curve, strict=True):
        full[i] = v
    if not ys:  # NaN from the first step: the warnings say to check data, model and loss
        return RobustAnswer(None, full, reasons=(f"{NO_CURVE}: no finite loss values",))
    if len(ys) < max(rule.window, 5):
        fix = "run more --steps, or start lower (--start-lr) if the loss blows up at once"
        if stop == "interrupted":
            fix = RERUN
        elif stop == "nan":  # NaN/inf within a few steps of the start: rarely the LR
            fix = (
                "the loss turned NaN/inf right after: run more --steps; if it does so at a "
                "small LR, check the data (NaN or inf in the inputs or targets), the model "
                "and the loss"
            )
        why = (
            f"{NO_CURVE}: only {len(ys)} finite point{'s' * (len(ys) != 1)} "
            f"(the rule needs {max(rule.window, 5)}); {fix}"
        )
        return RobustAnswer(None, full, reasons=(why,))
    # The noise scale the stop rule measured at its best median (it fired, or not, on the
    # same losses during the sweep; a replay gives the same state).
    noise = replay(ys, rule)[2].noise_at_best
    lo = int(len(curve) * rule.start_trim)
    hi = len(curve) - rule.end_trim if stop != "completed" else len(curve)
    if hi - lo < 3:
        lo, hi = 0, len(curve)
    best = min(range(lo, hi), key=curve.__getitem__)
    # Where the curve starts: the median of its first tenth (at least 3 points).
    start_level = median_sorted(sorted(curve[lo : lo + max(3, (hi - lo) // 10)]))
    depth = start_level - curve[best]
    snr = depth / noise if noise > 0 else (math.inf if depth > 0 else 0.0)
    if min(ys) == max(ys):  # not one step moved it: no range or length would help
        why = (
            f"{NO_CURVE}: the loss is {ys[0]:.4g} at every step, from lr {xs[0]:.3g} to "
            f"{xs[-1]:.3g}; no update changes it: check that the loss depends on the model's "
            "output and that the model's gradients are not all zero"
        )
        return RobustAnswer(None, full, reasons=(why,), detail={"snr": snr})
    if not depth > 0 or (stop == "interrupted" and snr < 1):
        why = (
            f"{NO_CURVE}: the loss never falls below where it started; widen the range "
            "(--start-lr lower, --end-lr higher) or run more --steps"
        )
        if stop == "interrupted":  # the curve is what the user cut short, not all it would be
            why = (
                f"{NO_CURVE}: the loss does not fall measurably in the {len(ys)} points before "
                f"the interrupt (lr {xs[0]:.3g} to {xs[-1]:.3g}): {RERUN_FIX}"
            )
        return RobustAnswer(None, full, reasons=(why,), detail={"snr": snr})
    if stop == "interrupted" and min(range(lo, len(curve)), key=curve.__getitem__) >= hi - 3:
        # Still falling when the user stopped it: where it bottoms out is not on the curve.
        why = (
            f"{NO_CURVE}: the loss was still falling when the sweep was interrupted (at lr "
            f"{xs[-1]:.3g}): {RERUN_FIX}"
        )
        return RobustAnswer(None, full, reasons=(why,), detail={"snr": snr})
    falls = best
    while falls > lo and curve[falls - 1] < start_level - FALLS * depth:
        falls -= 1
    at = xs[best] if rule.method == "min" else _edge(xs, curve, lo, best, depth, noise, rule)
    if at / rule.divisor < xs[0]:
        # The suggestion would lie below the swept range: the curve says nothing about it
        # (a range under log10(divisor) decades, or a loss that only rises from the start).
        # The stretch from the minimum within two scales of the batches' own scatter about
        # the curve (not the stop rule's noise scale, which a steady rise inflates too).
        scatter = 1.4826 * median_sorted(sorted(abs(ys[i] - curve[i]) for i in range(lo, hi)))
        flat = best
        while flat + 1 < len(curve) and curve[flat + 1] <= curve[best] + 2 * scatter:
            flat += 1
        what = "minimum" if rule.method == "min" else "left edge of the minimum's basin"
        why = (
            f"{NO_CURVE}: the {what} (lr {at:.3g}) is less than {rule.divisor:g}x above "
            f"--start-lr {xs[0]:.3g}, so the suggestion would lie below the swept range; "
        )
        if len(xs) > 2 and xs[1] > 5 * xs[0] and _evenly_spaced(xs):
            # --mode linear: every LR but the first lies near --end-lr, so a lower start
            # moves nothing; exponential steps cover the decades between.
            why += (
                "sweep in exponential steps (--mode exp, the default): linear ones jump from "
                f"{xs[0]:.3g} to {xs[1]:.3g} at once"
            )
        elif (snr < 1 and best - lo >= 3) or math.log10(xs[flat] / xs[lo]) >= 1:
            # A descent of less than one noise scale, its lowest point past the start, or a
            # loss within noise of its minimum for a decade or more from the start: the
            # curve is flat, then rises. A lower --start-lr adds more of the flat part,
            # whose edge is again near the start: "start lower" would loop.
            why = (
                f"{NO_CURVE}: the loss is flat from the start of the sweep to lr "
                f"{xs[flat]:.3g}, then rises: it never falls measurably, and a lower "
                "--start-lr only adds more of the flat part; run more --steps (each LR then "
                "trains longer), or check that the model can learn (data, labels, loss, "
                "frozen layers)"
            )
        else:
            why += "start the sweep lower (--start-lr)"
        return RobustAnswer(None, full, reasons=(why,), detail={"snr": snr})
    lr = at / rule.divisor
    basin = _basin_decades(xs, curve, lo, best, depth)
    reasons = _doubts(curve, lo, hi, best, stop, snr, basin, rule)
    level = "high"
    if snr < rule.lo_snr or any("still falling" in r for r in reasons):
        level = "low"
    elif reasons:
        level = "medium"
    detail = {"snr": snr, "noise": noise, "depth": depth, "basin_decades": basin}
    return RobustAnswer(lr, full, level, tuple(reasons), keep[best], xs[falls], xs[best], detail)


def _edge(
    xs: list[float],
    curve: list[float],
    lo: int,
    best: int,
    depth: float,
    noise: float,
    rule: RobustRule,
) -> float:
    """The LR where the curve, walking left from the minimum, first reaches `bottom_z` noise
    scales above it (at most `depth` above: a descent shallower than that has no bottom
    wider than itself), log-interpolated between the two points around that level; the
    first LR looked at (`lo`) when the curve never gets that high again."""
    level = curve[best] + min(rule.bottom_z * noise, depth)
    j = best
    while j > lo and curve[j - 1] < level:
        j -= 1
    if j == lo:
        return xs[lo]
    a, b = curve[j - 1], curve[j]  # a >= level > b
    t = (a - level) / (a - b) if a > b else 0.0
    return math.exp(math.log(xs[j - 1]) + t * (math.log(xs[j]) - math.log(xs[j - 1])))


def _evenly_spaced(xs: list[float]) -> bool:
    """Whether the LRs rise by equal steps (--mode linear), not by equal factors."""
    steps = [b - a for a, b in itertools.pairwise(xs)]
    return max(steps) <= 1.01 * min(steps)


def _basin_decades(xs: list[float], curve: list[float], lo: int, best: int, depth: float) -> float:
    """The width, in decades of LR, of the run of points within BASIN x depth of the minimum."""
    left = right = best
    while left > lo and curve[left - 1] <= curve[best] + BASIN * depth:
        left -= 1
    while right < len(curve) - 1 and curve[right + 1] <= curve[best] + BASIN * depth:
        right += 1
    return math.log10(xs[right] / xs[left])


def _doubts(
    curve: list[float],
    lo: int,
    hi: int,
    best: int,
    stop: str,
    snr: float,
    basin: float,
    rule: RobustRule,
) -> list[str]:
    """What lowers the confidence, in plain words (measured on the tuning half)."""
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
    return reasons

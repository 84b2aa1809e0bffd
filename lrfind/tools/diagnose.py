"""What a training run's loss curves say about its learning rate.

Five classes, checked in this order (the first check that fires wins):
diverging (a NaN, a rise at the end, a spike far above everything after it,
or a climb back up after a fall), stuck (flat and quiet), oscillating (zig-zags, falling or not),
overfitting, healthy. Every check is a plain number compared with a named
threshold, so the verdict can be explained and tuned. The checks are relative:
to the loss's level where it stays positive (cross-entropy, MSE), to its median
|loss| where it goes below 0 (a Gaussian NLL), whose changes are differences. A NaN
or inf train loss is diverging, and leaves the other checks nothing to measure.
Each check takes time linear in the log's length. Plain Python, no numpy or torch.
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass

from lrfind.errors import UsageError
from lrfind.tools.diagnose_thresholds import Thresholds, check_thresholds
from lrfind.tools.evidence import MOVED, NOT_FINITE, apart, counted, num, span, versus
from lrfind.tools.loss_math import change, mean, pct, signed_scale, window_means, zigzag
from lrfind.tools.losses import LossLog

__all__ = ["Check", "Diagnosis", "Thresholds", "diagnose"]

MIN_POINTS = 6
KINDS = ("diverging", "stuck", "oscillating", "overfitting", "healthy")

ADVICE = {
    "diverging": "lower the LR 3-10x (an `lrfind run` sweep shows where the loss blows up), "
    "add a warmup of a few hundred steps and clip gradients "
    "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))",
    "stuck": "raise the LR 3-10x (an `lrfind run` sweep shows where the loss starts to fall); "
    "if a much higher LR does not move it either, check the data and labels, the loss "
    "function and that the optimizer holds the trainable parameters",
    "oscillating": "lower the LR 2-3x or use a larger batch (a loss that swings more than it "
    "falls takes steps too large or too noisy), or decay the LR with a schedule (cosine, step, "
    "ReduceLROnPlateau: compare them with `lrfind schedule`)",
    "overfitting": "not the LR: the model is memorising the training set; stop early "
    "(at the validation minimum), regularise (weight decay, dropout, augmentation) or add data",
    "healthy": "keep the LR; if the loss is still falling at the end, train longer",
}


@dataclass(frozen=True)
class Check:
    """One measured number, its threshold, whether it fired and what it means."""

    name: str
    #: The class this check is evidence for.
    kind: str
    value: float | None
    threshold: float
    fired: bool
    evidence: str


@dataclass(frozen=True)
class Diagnosis:
    """The class (first check that fired, else "healthy"), its advice and all the evidence."""

    kind: str
    advice: str
    checks: list[Check]


def diagnose(log: LossLog, t: Thresholds | None = None) -> Diagnosis:
    """Classify a run from its loss log.

    Example:
        >>> diagnose(LossLog([0, 1, 2, 3, 4, 5], "epoch", [1, 1, 1, 1, 1, 1], None)).kind
        'stuck'
    """
    t = t or Thresholds()
    check_thresholds(t)
    if len(log.train) < MIN_POINTS:
        raise UsageError(
            f"the log has {len(log.train)} train losses: diagnose needs at least {MIN_POINTS}"
        )
    checks = [_diverging(log, t)]
    if all(map(math.isfinite, log.train)):
        checks += [check(log, t) for check in (_spike, _climb, _stuck, _oscillating, _overfitting)]
    else:  # diverging, and where: the other checks' numbers would be NaN or inf
        limits = (t.spike, t.climb_back, t.stuck_drop, t.oscillation, t.overfit_rise)
        kinds = ("diverging", "diverging", "stuck", "oscillating", "overfitting")
        rows = zip(("spike", "climb", *kinds[2:]), kinds, limits, strict=True)
        checks += [Check(name, k, None, lim, False, NOT_FINITE) for name, k, lim in rows]
    kind = next((c.kind for c in checks if c.fired), "healthy")
    return Diagnosis(kind, ADVICE[kind], checks)


def _w(n: int, t: Thresholds) -> int:
    """Points per window: two windows and a point between them always fit in n (n >= 3)."""
    return max(1, min(round(n * t.window), (n - 1) // 2))


def _diverging(log: LossLog, t: Thresholds) -> Check:
    train, x = log.train, log.x
    bad = next((i for i, v in enumerate(train) if not math.isfinite(v)), None)
    if bad is not None:
        text = f"train loss is {train[bad]} at {log.x_label} {x[bad]:g}"
        return Check("diverging", "diverging", math.inf, t.diverge_rise, True, text)
    n, w = len(train), _w(len(train), t)
    # Windows of w points, not single points: a noisy curve's lowest dip is no baseline.
    means = window_means(train, w)
    tail = means[-1]
    best_j = min(range(n - 2 * w + 1), key=means.__getitem__)  # the windows before the tail
    best, scale = means[best_j], signed_scale(train)
    rise = change(tail, best, scale)
    text = (
        f"mean train loss {tail:.4g} over the last {counted(w)}, "
        f"{versus(rise, by=apart(tail - best, scale))} the lowest "
        f"{w}-point mean before them ({best:.4g}, {span(log, best_j, w)})"
    )
    return Check("diverging", "diverging", rise, t.diverge_rise, rise > t.diverge_rise, text)


def _spike(log: LossLog, t: Thresholds) -> Check:
    train, scale = log.train, signed_scale(log.train)
    later = [0.0] * len(train)  # later[i]: the highest loss after point i
    for i in range(len(train) - 2, -1, -1):
        later[i] = max(train[i + 1], later[i + 1]) if i + 2 < len(train) else train[i + 1]
    # Only losses at or above the first count: near 0, late noise has large ratios too.
    # Below 0 a ratio means nothing (-3 is no multiple of -1): the gap, in median |loss|.
    spikes = [
        (train[i] / later[i] if scale is None else change(train[i], later[i], scale), i)
        for i in range(len(train) - 1)
        if train[i] >= train[0] and (later[i] > 0 or scale is not None)
    ]
    if not spikes:
        return Check("spike", "diverging", None, t.spike, False, "no loss above the first one")
    value, i = max(spikes)
    value = min(value, sys.float_info.max)  # 1e300 over 1e-300 is past a float: still a spike
    times = f"{value:.4g}x" if value < sys.float_info.max else "over 1.798e+308x"
    gap = f"{times} the highest loss after it ({later[i]:.4g})"
    if scale is not None:
        of = f" ({times} the median |loss| {scale:.4g})" if scale else ""
        gap = f"{num(train[i] - later[i])}{of} above the highest loss after it ({later[i]:.4g})"
    text = f"train loss {train[i]:.4g} at {log.x_label} {log.x[i]:g} is {gap}"
    return Check("spike", "diverging", value, t.spike, value > t.spike, text)


def _climb(log: LossLog, t: Thresholds) -> Check:
    """Fell, then came back: the lowest short stretch against the last window. A run whose
    LR is too high often blows up and settles on a plateau (a dead network at chance): its
    last window is level with the stretch before it, so the rise check misses it, and
    "stuck" would say to raise the LR."""
    train, n, scale = log.train, len(log.train), signed_scale(log.train)
    w, s = _w(n, t), max(3, n // 20)
    if n - w < s + 1:
        return Check("climb", "diverging", None, t.climb_back, False, "not measured")
    first, tail = train[0], mean(train[-w:])
    lows = window_means(train[: n - w], s)  # short stretches before the last window
    j = min(range(len(lows)), key=lows.__getitem__)
    peak = max(range(1, n - w), key=train.__getitem__)
    # On a noisy per-step log one point and the lowest of many windows differ by chance: a
    # fall, or a rise above the start, counts past 3 of a point's noise scales (robust, from
    # successive differences, which a trend does not inflate). Smooth logs have next to none.
    steps = sorted(abs(b - a) for a, b in itertools.pairwise(train))
    noise = 3 * 1.4826 * steps[len(steps) // 2] / math.sqrt(2)
    level = abs(first) if scale is None else scale  # below 0, |first| may be next to 0
    if first - lows[j] > max(2 * t.stuck_drop * level, noise):  # it fell measurably
        value = (tail - lows[j]) / (first - lows[j])
        text = (
            f"train loss fell from {first:.4g} to {lows[j]:.4g} ({span(log, j, s)}), then "
            f"climbed back {pct(value) if value > 0 else '0%'} of that fall ({tail:.4g} over "
            f"the last {counted(w)})"
        )
    elif (
        _above(tail, first, t.stuck_drop, scale)
        and tail - first > noise
        and _above(train[peak], first, t.diverge_rise, scale)
    ):
        value = math.inf
        text = (
            f"train loss {tail:.4g} over the last {counted(w)}, above the {first:.4g} it started "
            f"at, after rising to {train[peak]:.4g} at {log.x_label} {log.x[peak]:g}: it blew "
            "up and did not recover"
        )
    else:
        value, text = 0.0, "the train loss never fell measurably below where it started"
    return Check("climb", "diverging", value, t.climb_back, value > t.climb_back, text)


def _above(x: float, base: float, fraction: float, scale: float | None) -> bool:
    """x is more than `fraction` above base: of base itself, or below 0 of the log's scale."""
    return x > base * (1 + fraction) if scale is None else x - base > fraction * scale


def _stuck(log: LossLog, t: Thresholds) -> Check:
    w, scale = _w(len(log.train), t), signed_scale(log.train)
    head, tail = mean(log.train[:w]), mean(log.train[-w:])
    rise = change(tail, head, scale)
    drop = -rise if rise else 0.0  # not -0.0
    first, last = counted(w), counted(w)
    text = f"mean train loss {head:.4g} over the first {first}, {tail:.4g} over the last {last}"
    # Stuck advises "raise the LR": steps too small to move the loss, so it is flat *and*
    # quiet. A zig-zag above --oscillation is the oscillating check's sign of steps too
    # large (or too noisy: small batches), where a higher LR makes things worse; so one number
    # and threshold split flat runs between the classes: no log hears both "raise" and "lower".
    # Noise of relative spread s zig-zags by sqrt(3/8) s = 0.61 s: the default 0.1 calls a flat
    # loss noisy once it scatters by 16% (neighbours 23% RMS apart); +-39% is far beyond.
    amp = zigzag(log.train)[0]
    flat, quiet = drop < t.stuck_drop, amp <= t.oscillation
    noisy = f", but it zig-zags by +-{pct(amp)} (> {pct(t.oscillation)}): too noisy to be stuck"
    moved = versus(rise, MOVED, apart(tail - head, scale))
    text += f": {moved}{noisy if flat and not quiet else ''}"
    return Check("stuck", "stuck", drop, t.stuck_drop, flat and quiet, text)


def _oscillating(log: LossLog, t: Thresholds) -> Check:
    amp, size, level, fall = zigzag(log.train)
    of = f"its mean level {level:.4g}"
    if fall is not None:
        of = f"the {fall:.4g} it fell to {of}"
    elif size != abs(level):  # losses on both sides of 0: their mean |loss| is the scale
        of = f"its mean |loss| {size:.4g} (mean level {level:.4g})"
    text = f"second half: the train loss zig-zags by +-{pct(amp)} (RMS) of {of}"
    return Check("oscillating", "oscillating", amp, t.oscillation, amp > t.oscillation, text)


def _overfitting(log: LossLog, t: Thresholds) -> Check:
    # A NaN val loss is one not logged (LossLog); an inf one has no place on the curve.
    points = [(i, v) for i, v in enumerate(log.val or []) if math.isfinite(v)]
    infs = sum(map(math.isinf, log.val or []))
    left_out = f"; {infs} inf val loss{'es' if infs > 1 else ''} left out" if infs else ""
    if len(points) < 3:
        text = f"no {'finite ' if infs else ''}validation loss to compare{left_out}"
        return Check("overfitting", "overfitting", None, t.overfit_rise, False, text)
    w, scale, t_scale = _w(len(points), t), signed_scale(log.val or []), signed_scale(log.train)
    # The tail (last w logged val losses) against the lowest single one before it.
    i_min, v_min = min(points[:-w], key=lambda p: p[1])
    tail = mean([v for _, v in points[-w:]])
    rise = change(tail, v_min, scale)
    w_train = _w(len(log.train), t)
    train_then, train_end = log.train[i_min], mean(log.train[-w_train:])
    fired = train_end < train_then and rise > t.overfit_rise  # still falling: memorising
    fell = change(train_end, train_then, t_scale)
    text = (
        f"mean val loss {tail:.4g} over its last {counted(w, 'logged points')}, "
        f"{versus(rise, by=apart(tail - v_min, scale))} the lowest before them "
        f"({v_min:.4g} at {log.x_label} {log.x[i_min]:g}); train loss {train_then:.4g} there, "
        f"{train_end:.4g} over the last {counted(w_train)} "
        f"({versus(fell, MOVED, apart(train_end - train_then, t_scale, share=False))}){left_out}"
    )
    return Check("overfitting", "overfitting", rise, t.overfit_rise, fired, text)

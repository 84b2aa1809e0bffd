"""What a training run's loss curves say about its learning rate.

Five classes, checked in this order (the first check that fires wins):
diverging (a NaN, a rise at the end, a spike far above everything after it,
or a climb back up after a fall), stuck (flat and quiet), oscillating (zig-zags, falling or not),
overfitting, healthy. Every check is a plain number compared with a named
threshold, so the verdict can be explained and tuned. Losses are assumed
positive (cross-entropy, MSE): the checks are relative. Each check takes time
linear in the log's length. Plain Python, no numpy or torch.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from lrfind.errors import UsageError
from lrfind.tools.evidence import MOVED, counted, span, versus
from lrfind.tools.loss_math import change, mean, pct, window_means, zigzag
from lrfind.tools.losses import LossLog

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
class Thresholds:
    """The limits each check compares with; the CLI options carry the same names."""

    #: Fraction of the points in the first and last windows compared (at least 1 point).
    window: float = 0.2
    #: Diverging: the last window's mean train loss is this much above the best before it.
    diverge_rise: float = 0.5
    #: Diverging: a loss (at or above the first one) this many times the highest loss
    #: after it: a blow-up, then a collapse to some level, often a dead network at chance.
    spike: float = 10.0
    #: Stuck: the mean train loss fell by less than this fraction from first to last window
    #: (and it zig-zags by at most `oscillation`: a noisy flat loss is oscillating).
    stuck_drop: float = 0.05
    #: Oscillating: in the second half, the loss zig-zags by more than this fraction of its
    #: level, or of how far it fell to that level when that is more (a loss near 0).
    oscillation: float = 0.1
    #: Overfitting: the val loss ends this much above its minimum while the train loss falls.
    overfit_rise: float = 0.1
    #: Diverging: after falling, the loss climbs back this share of its fall (or ends above
    #: where it started after rising far above it): steps too large that did not recover.
    climb_back: float = 0.5


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
    if not 0 < t.window <= 0.5:
        raise UsageError(f"--window {t.window}: must be in (0, 0.5]")
    names = ("diverge_rise", "spike", "stuck_drop", "oscillation", "overfit_rise", "climb_back")
    for name in names:
        value = getattr(t, name)
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be a number >= 0")
    if t.spike < 1:  # a loss below the highest after it is no spike: every run would fire
        raise UsageError(f"--spike {t.spike}: must be >= 1 (a ratio to the losses after it)")
    if t.stuck_drop > 1:
        raise UsageError(f"--stuck-drop {t.stuck_drop}: must be a fraction, at most 1")
    if len(log.train) < MIN_POINTS:
        raise UsageError(
            f"the log has {len(log.train)} train losses: diagnose needs at least {MIN_POINTS}"
        )
    order = (_diverging, _spike, _climb, _stuck, _oscillating, _overfitting)
    checks = [check(log, t) for check in order]
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
    best = means[best_j]
    rise = change(tail, best)
    text = (
        f"mean train loss {tail:.4g} over the last {counted(w)}, {versus(rise)} the lowest "
        f"{w}-point mean before them ({best:.4g}, {span(log, best_j, w)})"
    )
    return Check("diverging", "diverging", rise, t.diverge_rise, rise > t.diverge_rise, text)


def _spike(log: LossLog, t: Thresholds) -> Check:
    train = log.train
    later = [0.0] * len(train)  # later[i]: the highest loss after point i
    for i in range(len(train) - 2, -1, -1):
        later[i] = max(train[i + 1], later[i + 1]) if i + 2 < len(train) else train[i + 1]
    # Only losses at or above the first count: near 0, late noise has large ratios too.
    spikes = [
        (train[i] / later[i], i)
        for i in range(len(train) - 1)
        if train[i] >= train[0] and later[i] > 0
    ]
    if not spikes:
        return Check("spike", "diverging", None, t.spike, False, "no loss above the first one")
    ratio, i = max(spikes)
    text = (
        f"train loss {train[i]:.4g} at {log.x_label} {log.x[i]:g} is {ratio:.4g}x "
        f"the highest loss after it ({later[i]:.4g})"
    )
    return Check("spike", "diverging", ratio, t.spike, ratio > t.spike, text)


def _climb(log: LossLog, t: Thresholds) -> Check:
    """Fell, then came back: the lowest short stretch against the last window. A run whose
    LR is too high often blows up and settles on a plateau (a dead network at chance): its
    last window is level with the stretch before it, so the rise check misses it, and
    "stuck" would say to raise the LR."""
    train, n = log.train, len(log.train)
    w, s = _w(n, t), max(3, n // 20)
    if n - w < s + 1 or not all(map(math.isfinite, train)):  # NaN: the rise check says where
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
    if first - lows[j] > max(2 * t.stuck_drop * abs(first), noise):  # it fell measurably
        value = (tail - lows[j]) / (first - lows[j])
        text = (
            f"train loss fell from {first:.4g} to {lows[j]:.4g} ({span(log, j, s)}), then "
            f"climbed back {pct(value) if value > 0 else '0%'} of that fall ({tail:.4g} over "
            f"the last {counted(w)})"
        )
    elif (
        tail > first * (1 + t.stuck_drop)
        and tail - first > noise
        and train[peak] > first * (1 + t.diverge_rise)
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


def _stuck(log: LossLog, t: Thresholds) -> Check:
    w = _w(len(log.train), t)
    head, tail = mean(log.train[:w]), mean(log.train[-w:])
    rise = change(tail, head)
    drop = -rise if rise else 0.0  # not -0.0
    first, last = counted(w), counted(w)
    text = f"mean train loss {head:.4g} over the first {first}, {tail:.4g} over the last {last}"
    # Stuck advises "raise the LR": steps too small to move the loss, so it is flat *and*
    # quiet. A zig-zag above --oscillation is the oscillating check's sign of steps too
    # large (or too noisy: small batches), where a higher LR makes things worse; so one number
    # and threshold split flat runs between the classes: no log hears both "raise" and "lower".
    # Noise of relative spread s zig-zags by sqrt(3/8) s = 0.61 s: the default 0.1 calls a flat
    # loss noisy once it scatters by 16% (neighbours 23% RMS apart); +-39% is far beyond.
    amp, _, _ = zigzag(log.train)
    flat, quiet = drop < t.stuck_drop, amp <= t.oscillation
    noisy = f", but it zig-zags by +-{pct(amp)} (> {pct(t.oscillation)}): too noisy to be stuck"
    text += f": {versus(rise, MOVED)}{noisy if flat and not quiet else ''}"
    return Check("stuck", "stuck", drop, t.stuck_drop, flat and quiet, text)


def _oscillating(log: LossLog, t: Thresholds) -> Check:
    amp, level, fall = zigzag(log.train)
    of = f"its mean level {level:.4g}"
    if fall is not None:
        of = f"the {fall:.4g} it fell to {of}"
    text = f"second half: the train loss zig-zags by +-{pct(amp)} (RMS) of {of}"
    if math.isnan(amp):  # a NaN in the log: the diverging check says where
        text = "second half: not measured, the train loss is not finite there"
    return Check("oscillating", "oscillating", amp, t.oscillation, amp > t.oscillation, text)


def _overfitting(log: LossLog, t: Thresholds) -> Check:
    points = [(i, v) for i, v in enumerate(log.val or []) if math.isfinite(v)]
    if len(points) < 3:
        text = "no validation loss to compare"
        return Check("overfitting", "overfitting", None, t.overfit_rise, False, text)
    w = _w(len(points), t)
    # The tail (last w logged val losses) against the lowest single one before it.
    i_min, v_min = min(points[:-w], key=lambda p: p[1])
    tail = mean([v for _, v in points[-w:]])
    rise = change(tail, v_min)
    w_train = _w(len(log.train), t)
    train_then, train_end = log.train[i_min], mean(log.train[-w_train:])
    fired = train_end < train_then and rise > t.overfit_rise  # still falling: memorising
    text = (
        f"mean val loss {tail:.4g} over its last {counted(w, 'logged points')}, {versus(rise)} the "
        f"lowest before them ({v_min:.4g} at {log.x_label} {log.x[i_min]:g}); train loss "
        f"{train_then:.4g} there, {train_end:.4g} over the last {counted(w_train)} "
        f"({versus(change(train_end, train_then), MOVED)})"
    )
    return Check("overfitting", "overfitting", rise, t.overfit_rise, fired, text)

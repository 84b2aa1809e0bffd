"""What a training run's loss curves say about its learning rate.

Five classes, checked in this order (the first check that fires wins):
diverging (a NaN, a rise at the end, or a spike far above everything after
it), stuck, oscillating, overfitting, healthy. Every check is a plain number
compared with a named threshold, so the verdict can be explained and tuned.
Losses are assumed positive (cross-entropy, MSE): the checks are relative.
Plain Python, no numpy or torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrfind.errors import UsageError
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
    "oscillating": "lower the LR 2-3x, or decay it with a schedule (cosine, step, "
    "ReduceLROnPlateau: compare them with `lrfind schedule`); a larger batch also helps",
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
    #: Stuck: the mean train loss fell by less than this fraction from first to last window.
    stuck_drop: float = 0.05
    #: Oscillating: in the second half, the loss zig-zags by more than this fraction of its level.
    oscillation: float = 0.1
    #: Overfitting: the val loss ends this much above its minimum while the train loss falls.
    overfit_rise: float = 0.1


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
    for name in ("diverge_rise", "spike", "stuck_drop", "oscillation", "overfit_rise"):
        value = getattr(t, name)
        if not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be a number >= 0")
    if len(log.train) < MIN_POINTS:
        raise UsageError(
            f"the log has {len(log.train)} train losses: diagnose needs at least {MIN_POINTS}"
        )
    checks = [
        _diverging(log, t),
        _spike(log, t),
        _stuck(log, t),
        _oscillating(log, t),
        _overfitting(log, t),
    ]
    kind = next((c.kind for c in checks if c.fired), "healthy")
    return Diagnosis(kind, ADVICE[kind], checks)


def _w(n: int, t: Thresholds) -> int:
    """Points per window: two windows and a point between them always fit in n (n >= 3)."""
    return max(1, min(round(n * t.window), (n - 1) // 2))


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _diverging(log: LossLog, t: Thresholds) -> Check:
    train, x = log.train, log.x
    bad = next((i for i, v in enumerate(train) if not math.isfinite(v)), None)
    if bad is not None:
        text = f"train loss is {train[bad]} at {log.x_label} {x[bad]:g}"
        return Check("diverging", "diverging", math.inf, t.diverge_rise, True, text)
    n, w = len(train), _w(len(train), t)
    # Windows of w points, not single points: a noisy curve's lowest dip is no baseline.
    means = [_mean(train[j : j + w]) for j in range(n - 2 * w + 1)]
    best_j = min(range(len(means)), key=means.__getitem__)
    best, tail = means[best_j], _mean(train[-w:])
    rise = (tail - best) / abs(best) if best else (0.0 if tail == best else math.inf)
    text = (
        f"last {w} points average {tail:.4g}, {rise:+.0%} vs the best {w} before them "
        f"({best:.4g} from {log.x_label} {x[best_j]:g})"
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


def _stuck(log: LossLog, t: Thresholds) -> Check:
    w = _w(len(log.train), t)
    head, tail = _mean(log.train[:w]), _mean(log.train[-w:])
    drop = (head - tail) / abs(head) if head else 0.0
    text = f"mean train loss {head:.4g} over the first {w} points, {tail:.4g} over the last {w}"
    change = f"fell {drop:.1%}" if drop >= 0 else f"rose {-drop:.1%}"
    return Check("stuck", "stuck", drop, t.stuck_drop, drop < t.stuck_drop, f"{text}: {change}")


def _oscillating(log: LossLog, t: Thresholds) -> Check:
    half = log.train[len(log.train) // 2 - 1 :]
    # Half the gap to the neighbours' mean: `a` for a zig-zag of +-a, near 0 on a smooth curve.
    swings = [(half[i] - (half[i - 1] + half[i + 1]) / 2) / 2 for i in range(1, len(half) - 1)]
    level = _mean([abs(v) for v in half])
    amp = math.sqrt(_mean([s * s for s in swings])) / level if level else 0.0
    text = f"second half: the train loss zig-zags by +-{amp:.1%} of its level ({level:.4g})"
    return Check("oscillating", "oscillating", amp, t.oscillation, amp > t.oscillation, text)


def _overfitting(log: LossLog, t: Thresholds) -> Check:
    points = [(i, v) for i, v in enumerate(log.val or []) if math.isfinite(v)]
    if len(points) < 3:
        return Check(
            "overfitting",
            "overfitting",
            None,
            t.overfit_rise,
            False,
            "no validation loss to compare",
        )
    w = _w(len(points), t)
    i_min, v_min = min(points[:-w], key=lambda p: p[1])
    tail = _mean([v for _, v in points[-w:]])
    rise = (tail - v_min) / abs(v_min) if v_min else 0.0
    train_then, train_end = log.train[i_min], _mean(log.train[-_w(len(log.train), t) :])
    falling = train_end < train_then
    text = (
        f"val loss ends at {tail:.4g}, {rise:+.0%} vs its minimum {v_min:.4g} "
        f"at {log.x_label} {log.x[i_min]:g}; train loss {train_then:.4g} -> {train_end:.4g}"
    )
    return Check(
        "overfitting", "overfitting", rise, t.overfit_rise, falling and rise > t.overfit_rise, text
    )

"""How sure a suggestion is: the near-minimum LR range, the cost of a decade, a confidence.

Pure functions over the smoothed curve and the suggestions, like suggest.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from lrfind.core.history import StopReason
from lrfind.core.suggest import Suggestion, candidates

if TYPE_CHECKING:
    from lrfind.core.repeats import Repeats
    from lrfind.core.robust_suggest import RobustAnswer

#: How far a suggestion can be trusted: "low" whenever the curve gives no usable minimum.
Confidence = Literal["high", "medium", "low"]

NEAR_MIN_MARGIN = 0.05  # of the loss's drop: "within 5% of the way down from the minimum"
AGREE_DECADES = 0.5  # min_div_10 and valley closer than this agree
MIN_DROP = 0.05  # a drop of less than 5% of the starting loss is barely a signal
SEVERE = ("the suggestion is the sweep's first LR", "the loss falls by only")  # alone make it low
# Repeats spread wider than this (decades) leave no better than "low": a decade of LR error
# costs 10-1000% regret on most of the suite's tasks (docs/quality.md).
UNSTABLE_LOW = 1.0


@dataclass(frozen=True)
class Uncertainty:
    """What the curve says about the suggestion's reliability.

    Attributes:
        near_min: (low, high) LRs between which the smoothed loss is within
            `margin` of its minimum (as a fraction of the loss's drop); None
            without a minimum.
        margin: that fraction.
        progress: how far down the curve is, as a fraction of its whole drop
            (0 = the starting loss, 1 = the minimum), at the suggestion and one
            decade below and above it (None where the curve does not reach).
        confidence: "high", "medium" or "low".
        reasons: what lowered the confidence, in plain words.
    """

    near_min: tuple[float, float] | None
    margin: float
    progress: dict[str, float | None]
    confidence: Confidence
    reasons: list[str] = field(default_factory=list)


def assess(
    lrs: Sequence[float],
    smoothed: Sequence[float],
    suggestions: Mapping[str, Suggestion],
    stop_reason: StopReason,
    method: str = "min_div_10",
) -> Uncertainty:
    """The uncertainty of `suggestions[method]` on the curve (lrs, smoothed)."""
    _, x, y = candidates(lrs, smoothed)
    lr = suggestions[method].lr if method in suggestions else None
    if len(y) < 3:
        why = f"no usable curve: only {len(y)} finite points once the ends are set aside (needs 3)"
        return Uncertainty(None, NEAR_MIN_MARGIN, {}, "low", [why])
    if lr is None:
        return Uncertainty(None, NEAR_MIN_MARGIN, {}, "low", [f"{method} gives no suggestion"])
    lo = int(np.argmin(y))
    start, low = float(y[0]), float(y[lo])
    drop = start - low
    if not drop > 0:
        return Uncertainty(None, NEAR_MIN_MARGIN, {}, "low", ["the loss never falls"])
    logx = np.log10(x)
    progress = {
        "at_suggestion": _progress(logx, y, math.log10(lr), start, drop),
        "decade_lower": _progress(logx, y, math.log10(lr) - 1, start, drop),
        "decade_higher": _progress(logx, y, math.log10(lr) + 1, start, drop),
    }
    reasons = _doubts(lrs, x, y, lo, drop, suggestions, stop_reason, method)
    severe = any(r.startswith(SEVERE) for r in reasons)
    confidence: Confidence = (
        "high" if not reasons else "medium" if len(reasons) == 1 and not severe else "low"
    )
    return Uncertainty(_near_min(x, y, lo, drop), NEAR_MIN_MARGIN, progress, confidence, reasons)


def _near_min(x: np.ndarray, y: np.ndarray, at: int, drop: float) -> tuple[float, float]:
    """The contiguous run of points around the minimum within the margin of it."""
    limit = y[at] + NEAR_MIN_MARGIN * drop
    a = b = at
    while a > 0 and y[a - 1] <= limit:
        a -= 1
    while b < len(y) - 1 and y[b + 1] <= limit:
        b += 1
    return float(x[a]), float(x[b])


def _progress(
    logx: np.ndarray, y: np.ndarray, at: float, start: float, drop: float
) -> float | None:
    """(start - loss) / drop at log10 LR `at`, interpolated; None outside the curve."""
    if not logx[0] <= at <= logx[-1]:
        return None
    return (start - float(np.interp(at, logx, y))) / drop


def _doubts(
    lrs: Sequence[float],
    x: np.ndarray,
    y: np.ndarray,
    at: int,
    drop: float,
    suggestions: Mapping[str, Suggestion],
    stop_reason: StopReason,
    method: str,
) -> list[str]:
    reasons = []
    if suggestions[method].lr == lrs[0]:
        reasons.append("the suggestion is the sweep's first LR: no usable minimum before it")
    if drop < MIN_DROP * abs(float(y[0])):
        reasons.append(f"the loss falls by only {100 * drop / abs(float(y[0])):.1f}%")
    if stop_reason == "completed" and at >= len(y) - 2:
        reasons.append("the loss was still falling at the end of the sweep")
    other = suggestions.get("valley")
    mine = suggestions[method].lr
    if other is not None and other.lr is not None and mine is not None and method != "valley":
        apart = abs(math.log10(mine / other.lr))
        if apart > AGREE_DECADES:
            reasons.append(f"{method} and valley disagree by {apart:.1f} decades")
    return reasons


def with_rule(
    u: Uncertainty, rule: RobustAnswer | None, lr: float | None, repeats: Repeats | None
) -> Uncertainty:
    """`u` with the robust rule's confidence and reasons (when it is the headline method),
    capped by --repeats: never "high" when the repeats are unstable.

    The robust rule's confidence comes from what it measured (the descent in noise scales,
    the width of the minimum, where the minimum sits against the stop): on the suite's
    tuning half, "high" had 5% mean regret and "low" 32% (docs/quality.md).
    """
    if rule is not None:
        if rule.lr is None or lr is None:
            why = list(rule.reasons) or ["no usable curve or no suggestion"]
            u = Uncertainty(None, u.margin, {}, "low", why)
        else:
            u = replace(u, confidence=rule.confidence, reasons=list(rule.reasons))
    if repeats is None or repeats.stable is not False or repeats.spread_decades is None:
        return u
    spread = repeats.spread_decades
    why = f"the repeats spread over {spread:.2f} decades"
    level: Confidence = "low" if spread > UNSTABLE_LOW else "medium"
    if u.confidence == "low" or (u.confidence == "medium" and level == "medium"):
        level = u.confidence
    return replace(u, confidence=level, reasons=[*u.reasons, why])

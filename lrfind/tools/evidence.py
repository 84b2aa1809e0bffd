"""The words diagnose's evidence is written in: counts, relative changes, spans of a log."""

from __future__ import annotations

import math

from lrfind.tools.loss_math import pct
from lrfind.tools.losses import LossLog

#: Where a check has no number: a NaN or inf train loss (the diverging check fired on it).
NOT_FINITE = "not measured: the train loss is not finite (the diverging row says where)"


def counted(w: int, what: str = "points") -> str:
    """'8 points', or 'point' for one (after 'the last')."""
    return f"{w} {what}" if w > 1 else what.removesuffix("s")


ABOVE, MOVED = ("{} above", "{} below", "level with"), ("rose {}", "fell {}", "did not change")


def versus(change: float, words: tuple[str, str, str] = ABOVE, by: str | None = None) -> str:
    """A relative change in words: '3.19% above', '7% below', 'level with'; MOVED: 'fell 7%'.
    `by` says how far in place of the percentage: a difference, from `apart`."""
    if math.isnan(change):  # a NaN in the log: the diverging check says where
        return "not comparable"
    size = by or ("" if math.isinf(change) else pct(change))  # from 0: no percentage
    return words[2] if change == 0 else words[0 if change > 0 else 1].format(size).strip()


def apart(diff: float, scale: float | None, share: bool = True) -> str | None:
    """How far apart two losses of a log below 0 are (scale: its median |loss|, see
    loss_math.signed_scale): the difference, and its share of the scale that the check
    compares: '10 (40.8% of the median |loss| 24.5)'. None for a positive log, whose
    percentage is the change."""
    if scale is None:
        return None
    of = f" ({pct(diff / scale)} of the median |loss| {scale:.4g})" if share and scale else ""
    return f"{num(abs(diff))}{of}"


def num(v: float) -> str:
    """A loss or a difference of two, 4 digits; past the float range (1e308 - -1e308) a bound."""
    return f"{v:.4g}" if math.isfinite(v) else "over 1.798e+308" if v > 0 else "below -1.798e+308"


def span(log: LossLog, i: int, w: int) -> str:
    """Where w points from index i lie: 'epoch 3', or 'epochs 3-10'."""
    last = "" if w == 1 else f"-{log.x[i + w - 1]:g}"
    return f"{log.x_label}{'s' if w > 1 else ''} {log.x[i]:g}{last}"

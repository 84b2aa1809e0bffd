"""The words diagnose's evidence is written in: counts, relative changes, spans of a log."""

from __future__ import annotations

import math

from lrfind.tools.loss_math import pct
from lrfind.tools.losses import LossLog


def counted(w: int, what: str = "points") -> str:
    """'8 points', or 'point' for one (after 'the last')."""
    return f"{w} {what}" if w > 1 else what.removesuffix("s")


ABOVE, MOVED = ("{} above", "{} below", "level with"), ("rose {}", "fell {}", "did not change")


def versus(change: float, words: tuple[str, str, str] = ABOVE) -> str:
    """A relative change in words: '3.19% above', '7% below', 'level with'; MOVED: 'fell 7%'."""
    if math.isnan(change):  # a NaN in the log: the diverging check says where
        return "not comparable"
    size = "" if math.isinf(change) else pct(change)  # from 0: no percentage
    return words[2] if change == 0 else words[0 if change > 0 else 1].format(size).strip()


def span(log: LossLog, i: int, w: int) -> str:
    """Where w points from index i lie: 'epoch 3', or 'epochs 3-10'."""
    last = "" if w == 1 else f"-{log.x[i + w - 1]:g}"
    return f"{log.x_label}{'s' if w > 1 else ''} {log.x[i]:g}{last}"

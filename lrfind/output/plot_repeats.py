"""--repeats on the plot: every repeat's smoothed curve, faint, and their band."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lrfind.core.repeats import Repeats

if TYPE_CHECKING:  # annotation only: matplotlib loads when a plot is drawn
    from matplotlib.axes import Axes

_REPEAT, _BAND = "#5d6d7e", "#aab7c4"


def band(curves: list[list[float]]) -> tuple[list[int], list[float], list[float]]:
    """(indices, lows, highs): min and max over the curves at each step, finite values only.

    Repeats share one LR schedule, so step i is the same LR in every curve;
    curves end where their sweep stopped, and a step counts while at least
    two repeats reached it.

    >>> band([[3.0, 2.0, 1.0], [4.0, 1.0]])
    ([0, 1], [3.0, 1.0], [4.0, 2.0])
    """
    indices, lows, highs = [], [], []
    for i in range(max((len(c) for c in curves), default=0)):
        values = [c[i] for c in curves if i < len(c) and math.isfinite(c[i])]
        if len(values) >= 2:
            indices.append(i)
            lows.append(min(values))
            highs.append(max(values))
    return indices, lows, highs


def draw_repeats(ax: Axes, repeats: Repeats) -> None:
    """Each repeat's smoothed loss (thin, faint) and the min-max band around them."""
    curves = [r.history.smoothed for r in repeats.runs]
    longest = max(repeats.runs, key=lambda r: r.steps_run).history.lrs
    indices, lows, highs = band(curves)
    if indices:
        ax.fill_between(
            [longest[i] for i in indices],
            lows,
            highs,
            color=_BAND,
            alpha=0.35,
            lw=0,
            label=f"band of {len(curves)} repeats (min-max)",
            gid="repeats-band",
        )
    for k, run in enumerate(repeats.runs):
        ax.plot(
            run.history.lrs,
            run.history.smoothed,
            color=_REPEAT,
            lw=0.9,
            alpha=0.5,
            label="each repeat" if k == 0 else None,
            gid="repeat",
        )
    shown = [lr for lr in repeats.lrs if lr is not None]
    for k, lr in enumerate(shown):  # labelled once: an unexplained line is a question
        label = "each repeat's suggestion" if k == 0 else None
        ax.axvline(lr, color=_REPEAT, ls=":", lw=0.9, alpha=0.6, label=label, gid="repeat-lr")

"""lr_finder.png kept legible: the LR axis's range, markers at one point, where the legend goes.

matplotlib places each artist on its own terms: it autoscales the LR axis to
every mark (a hand-edited lr 1e308 stretches it until its log transform
overflows), draws markers at one point over each other, and `loc="best"`
weighs texts and markers no more than a stretch of curve (before 3.8, not at
all). These helpers make those choices for the plot instead; the last two
measure the laid-out figure, after everything is drawn.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotation only: matplotlib loads when a plot is drawn
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D
    from matplotlib.transforms import Bbox

# Marks up to this many decades past the swept range still widen the LR axis (--refine can
# move the suggestion past an end); farther ones, which only a hand-edited report holds,
# are pinned at the edge instead of squeezing the curve into a sliver.
NEAR_DECADES = 2.0
_MARGIN = 0.05  # of the log range, at each end: matplotlib's own autoscale margin
# 10 ** 308.3 is past the largest float: the limits (and the ticks matplotlib puts
# beyond them) stay a decade inside it.
_MAX_EXP = math.floor(math.log10(sys.float_info.max)) - 1
_PIN = 0.02  # a pinned mark sits this far inside the axis's edge, within the margin
# Corners first: the curve leaves them emptiest, and upper left has the headroom
# _set_ylim keeps for the legend.
_SPOTS = ("upper left", "upper right", "lower left", "lower right", "center left",
          "center right", "upper center", "lower center")  # fmt: skip
_GAP = 3.0  # pixels kept between the legend and what it must not cover
_RING = 5.0  # points: how much wider each marker under another is drawn than the one on it


def lr_limits(lrs: list[float], marks: list[float]) -> tuple[float, float] | None:
    """The LR axis's (left, right): the swept LRs, the marks near them, and a margin.

    Set by hand rather than autoscaled; None when no LR is a positive number.
    """
    swept = [math.log10(x) for x in lrs if x > 0 and math.isfinite(x)]
    if not swept:
        return None
    lo, hi = min(swept), max(swept)
    near = [
        math.log10(m)
        for m in marks
        if m > 0 and math.isfinite(m) and lo - NEAR_DECADES <= math.log10(m) <= hi + NEAR_DECADES
    ]
    lo, hi = min([lo, *near]), max([hi, *near])
    margin = _MARGIN * (hi - lo or 10.0)  # one point: a decade each side, as matplotlib does
    return 10.0 ** max(lo - margin, -_MAX_EXP), 10.0 ** min(hi + margin, _MAX_EXP)


def pinned(lr: float, limits: tuple[float, float] | None) -> tuple[float, str | None]:
    """Where a mark at `lr` is drawn: (lr, None) on the axis, else (x, "<" or ">").

    A mark beyond an end of the axis is pinned just inside that end, with a
    pointer marker aimed at where it lies.
    """
    if limits is None:
        return lr, None
    left, right = limits
    step = (right / left) ** _PIN
    if lr < left:
        return left * step, "<"
    if lr > right:
        return right / step, ">"
    return lr, None


def stack_coinciding(marks: list[Line2D]) -> None:
    """Give markers at one point sizes that grow from the top one down, so each shows.

    The steepest and valley methods often pick the same swept point: drawn at
    their own sizes, the one drawn later hides the other while the legend
    lists both. Each marker under another becomes a rim around it, at the exact
    same position; only sizes and, within a stack, the drawing order change.
    """
    groups: list[list[Line2D]] = []
    for mark in sorted(marks, key=lambda m: m.get_zorder()):  # stable: the drawing order
        group = next((g for g in groups if any(_covers(mark, m) for m in g)), None)
        if group is None:
            groups.append([mark])
        else:
            group.append(mark)
    for group in groups:
        top = group[-1]  # drawn last: it keeps its size
        size, z = top.get_markersize(), top.get_zorder()
        for k, mark in enumerate(reversed(group[:-1]), start=1):
            size = max(mark.get_markersize(), size + _RING)
            mark.set_markersize(size)
            mark.set_zorder(z - 0.01 * k)  # under the ones above it, over the curve


def place_legend(ax: Axes, keep_clear: list[Artist], **style: Any) -> None:
    """Put the legend in the first spot where it covers none of `keep_clear`, else below the axes.

    `keep_clear` are the labels and markers: what the plot is read for. Needs
    the figure laid out first (its layout engine run); a legend inside the
    axes leaves that layout as it is.
    """
    clear = [_extent(a) for a in keep_clear if a.get_visible()]
    for spot in _SPOTS:
        legend = ax.legend(loc=spot, **style)
        box = legend.get_window_extent().padded(_GAP)
        if not any(box.overlaps(c) for c in clear):
            return
    # Nowhere inside: under the axes' own labels, where constrained layout makes room.
    # Still the axes' legend (ax.get_legend()), anchored a fixed distance below them.
    from matplotlib.transforms import offset_copy

    below = ax.get_window_extent().y0 - ax.xaxis.get_tightbbox().y0  # ticks and label, px
    under = offset_copy(ax.transAxes, ax.figure, y=-below * 72 / ax.figure.dpi, units="points")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=under, ncols=3, **style)


def _covers(a: Line2D, b: Line2D) -> bool:
    """Whether one marker's centre lies under the other (their centres, in pixels)."""
    (xa, ya), (xb, yb) = (m.get_transform().transform(m.get_xydata()[0]) for m in (a, b))
    reach = max(a.get_markersize(), b.get_markersize()) / 2 * a.figure.dpi / 72
    return math.hypot(xa - xb, ya - yb) < reach


def _extent(artist: Artist) -> Bbox:
    """The artist's box on the canvas, in pixels; a label's includes its rounded box's pad.

    The box itself is only sized when the label is drawn (until then it is a
    unit square at the origin), so its pad is added to the text's extent.
    """
    box = artist.get_window_extent()
    patch = getattr(artist, "get_bbox_patch", lambda: None)()
    if patch is None:
        return box
    pad = getattr(patch.get_boxstyle(), "pad", 0.3) * artist.get_fontsize()  # points
    return box.padded(pad * artist.figure.dpi / 72)

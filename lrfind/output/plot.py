"""lr_finder.png: the loss curve, its minimum and the suggestion, at a glance.

Uses a bare matplotlib Figure (no pyplot, so no global state and no GUI
backend); matplotlib is imported only when a plot is made.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrfind.core.curve import edges
from lrfind.core.result import SweepResult
from lrfind.output.files import write_atomic
from lrfind.output.mpl import load_matplotlib, quiet_float_errors
from lrfind.output.plot_layout import lr_limits, pinned, place_legend, stack_coinciding
from lrfind.output.plot_repeats import draw_repeats

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

_RAW, _SMOOTH, _MIN, _SUGGEST = "#7aa6d6", "#1f4e8c", "#c0392b", "#1e8449"
_LABEL_BOX = {"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.85}
_OTHERS = {"steepest": ("#8e44ad", "^"), "valley": ("#d35400", "s")}


def plot_result(result: SweepResult, title: str | None = None) -> Figure:
    """Draw the range test: raw loss faint, smoothed bold, on a log LR axis.

    The minimum of the smoothed loss and the headline suggestion are marked
    and labelled with their values; other methods' suggestions are small
    markers listed in the legend, which goes where it hides no label or marker.
    """
    load_matplotlib()
    from matplotlib.figure import Figure

    h = result.history
    fig = Figure(figsize=(9, 5.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.set_xscale("log")
    # Fixed before anything is drawn: autoscaling would stretch the axis to any mark.
    limits = lr_limits(h.lrs, _marked_lrs(result))
    if limits is not None:
        ax.set_xlim(*limits)
    if result.repeats is not None:
        draw_repeats(ax, result.repeats)
    if h.is_smoothed:
        ax.plot(h.lrs, h.losses, color=_RAW, lw=1, alpha=0.55, label="loss (raw)")
        # --smoothing 0 (the default): the curve is the robust rule's centred median + mean
        ema = result.config.smoothing > 0
        label = "loss (smoothed)" if ema else "loss (robust curve)"
        ax.plot(h.lrs, h.smoothed, color=_SMOOTH, lw=2.4, label=label)
    else:  # the curve read is the raw loss itself: one line
        ax.plot(h.lrs, h.losses, color=_SMOOTH, lw=2, label="loss")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"{result.loss_source} loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.grid(True, which="minor", alpha=0.1)
    _set_ylim(ax, h.losses, h.smoothed, result.min_index)
    if result.method != "robust":  # the robust rule reads the curve up to the stop
        _shade_ignored_tail(ax, h.lrs)

    marks: list[Line2D] = []  # what the legend must not cover, and may stack
    if result.min_index is not None:
        x, y = h.lrs[result.min_index], h.smoothed[result.min_index]
        (dot,) = ax.plot([x], [y], "o", color=_MIN, ms=9, zorder=5, label=f"minimum: lr {x:.2g}")
        marks.append(dot)
        right_half = _log_fraction(h.lrs, x) > 0.6
        ax.annotate(
            f"minimum\nlr {x:.2g}, loss {y:.3g}",
            (x, y),
            xytext=(-14 if right_half else 14, -8),
            textcoords="offset points",
            ha="right" if right_half else "left",
            va="top",
            color=_MIN,
            fontsize=10,
            fontweight="bold",
            arrowprops={"arrowstyle": "-", "color": _MIN},
            bbox=_LABEL_BOX,
        )
    s = result.suggestion
    if s.lr is not None:
        diamond = _mark(ax, result, limits, s.lr, "D", _suggested_label(result), color=_SUGGEST)
        marks.append(diamond)
        x, y = diamond.get_xydata()[0]
        if x == s.lr:  # on the axis (else pinned at its edge: no line to draw)
            ax.axvline(s.lr, color=_SUGGEST, ls="--", lw=1.6, zorder=4)
        ref = result.refinement
        if ref is not None and ref.lr != ref.swept_lr:  # where the sweep alone put it
            own = f"the sweep's own: lr {ref.swept_lr:.2g}"
            marks.append(
                _mark(ax, result, limits, ref.swept_lr, "D", own, mfc="none", mec=_SUGGEST)
            )
        # Above and to the right: the curve falls after the suggestion, so that corner
        # is empty, and the label stays off the dashed line (left of a right-edge pin).
        at_right = x < s.lr
        beyond = "" if x == s.lr else "\n(off the axis)"
        ax.annotate(
            f"suggested lr\n{s.lr:.2g}{beyond}",
            (x, y),
            xytext=(-12 if at_right else 12, 22),
            textcoords="offset points",
            ha="right" if at_right else "left",
            color=_SUGGEST,
            fontsize=11,
            fontweight="bold",
            bbox=_LABEL_BOX,
        )
    for name, other in result.suggestions.items():
        if name == s.method or other.lr is None or name not in _OTHERS:
            continue
        color, marker = _OTHERS[name]
        label = f"{name}: lr {other.lr:.2g}"
        marks.append(
            _mark(ax, result, limits, other.lr, marker, label, color=color, ms=7, zorder=5)
        )
    ax.set_title(title or _title(result), fontsize=12)
    fig.get_layout_engine().execute(fig)  # the layout, final: the next two measure it in pixels
    stack_coinciding(marks)
    place_legend(ax, [*ax.texts, *marks], fontsize=9, framealpha=0.9)
    return fig


def _marked_lrs(result: SweepResult) -> list[float]:
    """Every LR the plot marks besides the curve's own."""
    ref, rep = result.refinement, result.repeats
    lrs = [s.lr for s in result.suggestions.values()] + [result.suggestion.lr]
    lrs += [] if ref is None else [ref.swept_lr]
    lrs += [] if rep is None else rep.lrs
    return [lr for lr in lrs if lr is not None]


def _mark(
    ax: Axes,
    result: SweepResult,
    limits: tuple[float, float] | None,
    lr: float,
    marker: str,
    label: str,
    **style: Any,
) -> Line2D:
    """A marker on the curve at `lr`; off the axis, a pointer at the edge it lies past."""
    h = result.history
    x, pointer = pinned(lr, limits)
    y = _curve_at(h.lrs, h.smoothed, lr)
    if pointer is not None:  # the curve's end may be far above the frame: keep it in,
        low, high = ax.get_ylim()  # with room above for the suggestion's label
        span = high - low
        y, label = min(max(y, low + 0.1 * span), high - 0.3 * span), f"{label} (off the axis)"
    style = {"ms": 9, "zorder": 6, **style}
    (line,) = ax.plot([x], [y], pointer or marker, label=label, **style)
    return line


def _suggested_label(result: SweepResult) -> str:
    s, median = result.suggestion, "median " if result.repeats else ""
    how = f"{s.method}, refined by probes" if result.refinement is not None else s.method
    return f"{median}suggested ({how}): lr {s.lr:.2g}"


def save_plot(result: SweepResult, path: str | Path, title: str | None = None) -> Path:
    """Draw the result and write it as a PNG to `path`, atomically."""
    with quiet_float_errors():
        fig = plot_result(result, title)
        return write_atomic(path, lambda f: fig.savefig(f, format="png"))


def _title(result: SweepResult) -> str:
    reason = {
        "diverged": "loss diverged",
        "nan": "loss became NaN/inf",
        "completed": "completed",
        "interrupted": "interrupted",
    }.get(result.stop_reason, result.stop_reason)
    swept = "" if result.training is None else f"{result.training.label()}, "
    if result.repeats is not None:
        rep = result.repeats
        seed = rep.seeds[rep.shown]
        return f"LR range test: {swept}{len(rep.runs)} repeats; bold: seed {seed} ({result.device})"
    return f"LR range test: {swept}{result.steps_run} steps, {reason} ({result.device})"


def _set_ylim(ax: Axes, raw: list[float], smoothed: list[float], min_index: int | None) -> None:
    """Frame the curve up to its minimum; the blow-up after it may leave the plot.

    The interesting part is the descent to the minimum: letting a loss of 1e4
    at the end set the scale would flatten it into a line.
    """
    upto = len(smoothed) if min_index is None else min_index + 1
    head = [v for v in smoothed[:upto] if math.isfinite(v)]
    if not head:
        return
    low = min([*head, *(v for v in raw[:upto] if math.isfinite(v))])
    high = max(head)
    span = high - low or abs(high) * 0.1 or 1.0
    # Room below the minimum for its label, above the curve for the legend.
    ax.set_ylim(low - 0.25 * span, high + 0.45 * span)


def _shade_ignored_tail(ax: Axes, lrs: list[float]) -> None:
    """Grey out the last points, which no suggestion looks at (see curve.edges).

    Without it a reader sees a lower loss right of the marked minimum (a lucky
    batch in the blow-up) and wonders why it is not the minimum.
    """
    n = len(lrs)
    hi = edges(n)[1]
    if 0 < hi < n:
        left = math.sqrt(lrs[hi - 1] * lrs[hi])  # halfway in log LR
        ax.axvspan(
            left,
            lrs[-1],
            color="#888888",
            alpha=0.12,
            lw=0,
            label=f"last {n - hi} points: not used for the suggestions",
        )


def _log_fraction(lrs: list[float], x: float) -> float:
    """Where x sits along the swept LR range, 0..1 on a log scale."""
    lo, hi = math.log(lrs[0]), math.log(lrs[-1])
    return 0.5 if hi <= lo else (math.log(x) - lo) / (hi - lo)


def _curve_at(lrs: list[float], values: list[float], lr: float) -> float:
    """The curve's value at `lr`, interpolated linearly in log LR."""
    points = [
        (math.log(x), y) for x, y in zip(lrs, values, strict=False) if x > 0 and math.isfinite(y)
    ]
    if not points:
        return math.nan
    t = math.log(lr)
    if t <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= t <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (t - x0) / (x1 - x0)
    return points[-1][1]

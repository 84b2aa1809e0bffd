"""lr_finder.png stays legible: no label under the legend, no marker under another, no overflow.

Checked on the laid-out matplotlib figure, in pixels: what a reader of the PNG
would see, not which options were passed.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from lrfind import SweepConfig, plot_result, report_dict
from lrfind.core.history import History
from lrfind.core.result import SweepResult
from lrfind.core.suggest import Suggestion
from lrfind.output.plot_layout import place_legend
from lrfind.output.report import write_report

# A 10-step sweep of a detection model (FINDINGS 8): the loss falls from the start, so the
# suggestion sits top-left, and steepest and valley both picked the third point.
LRS = [1e-07, 7.742636826811268e-07, 5.994842503189409e-06, 4.641588833612777e-05,
       0.00035938136638046257, 0.0027825594022071257, 0.021544346900318822,
       0.1668100537200059, 1.2915496650148828, 10.0]  # fmt: skip
LOSSES = [2.1940789222717285, 2.281848430633545, 2.145120859146118, 2.2272324562072754,
          2.177750587463379, 2.2584896087646484, 2.034064531326294, 1.6320703029632568,
          9.571216583251953, 166.73788452148438]  # fmt: skip
SMOOTHED = [2.1941, 2.2051, 2.2042, 2.1760, 2.4, 2.6, 3.0, 4.0, 9.5, 166.7]


def _result(suggested: float = 1.1989685006378825e-06, **lrs: float) -> SweepResult:
    """The sweep above, as analyse would hand it to the plot, with the given suggestions."""
    lrs = {"steepest": LRS[2], "valley": LRS[2], **lrs}
    return _sweep(LRS, LOSSES, SMOOTHED, 3, robust=suggested, **lrs)


def _sweep(
    lrs: list[float], losses: list[float], smoothed: list[float], min_index: int, **methods: float
) -> SweepResult:
    """A finished sweep with the given curve, minimum and suggestions (robust's the headline)."""
    history = History(lrs=lrs, losses=losses, smoothed=smoothed, stop_reason="completed")
    suggestions = {name: Suggestion(name, lr) for name, lr in methods.items()}
    config = SweepConfig(steps=len(lrs))
    return SweepResult(history, suggestions, "robust", [], config, min_index=min_index)


def _laid_out(result: SweepResult) -> Any:
    """The plot's axes, after the layout the PNG is written with."""
    fig = plot_result(result)
    fig.draw_without_rendering()
    return fig.axes[0]


def _extent(artist: Any) -> Any:
    """An artist's pixel box; a label's includes its rounded white box."""
    from matplotlib.transforms import Bbox

    box = artist.get_window_extent()
    patch = artist.get_bbox_patch() if hasattr(artist, "get_bbox_patch") else None
    return box if patch is None else Bbox.union([box, patch.get_window_extent()])


def _marker(ax: Any, prefix: str) -> Any:
    (line,) = [line for line in ax.get_lines() if line.get_label().startswith(prefix)]
    return line


def test_the_suggestion_label_is_not_under_the_legend() -> None:
    ax = _laid_out(_result())
    legend = _extent(ax.get_legend())
    (label,) = [t for t in ax.texts if t.get_text().startswith("suggested lr")]
    assert "1.2e-06" in label.get_text()
    assert not legend.overlaps(_extent(label)), (legend, _extent(label))
    for text in ax.texts:  # the minimum's label too, and every marker
        assert not legend.overlaps(_extent(text)), text.get_text()
    for name in ("minimum", "suggested", "steepest", "valley"):
        assert not legend.overlaps(_marker(ax, name).get_window_extent()), name


def test_a_label_beside_the_legend_leaves_it_top_left() -> None:
    # The usual case (the README's picture): flat, then a drop to the minimum; the suggestion
    # and its label sit high but mid-way along, right of the legend. Measured as drawn: a
    # label's white box is sized only when drawn, and counting the unsized one (a square at
    # the canvas's origin) as part of it pushed this legend below the axes.
    lrs = [10 ** (-7 + k * 8 / 29) for k in range(30)]
    curve = [2.0] * 15 + [2.0 - (k / 9) for k in range(1, 10)] + [1.2, 1.5, 2, 3, 4, 6]
    ax = _laid_out(_sweep(lrs, curve, curve, 23, robust=lrs[15], steepest=lrs[18], valley=lrs[17]))
    legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 - axes.x0 < 20 and axes.y1 - legend.y1 < 20
    (label,) = [t for t in ax.texts if t.get_text().startswith("suggested lr")]
    assert _extent(label).y1 > legend.y0  # as high as the legend: beside it, not below


def test_markers_at_one_point_are_all_drawn_and_visible() -> None:
    ax = _laid_out(_result())
    steepest, valley = _marker(ax, "steepest"), _marker(ax, "valley")
    # Exactly where the methods put them: the same swept point.
    assert list(steepest.get_xydata()[0]) == list(valley.get_xydata()[0])
    assert steepest.get_xydata()[0][0] == LRS[2]
    under, over = sorted((steepest, valley), key=lambda m: m.get_zorder())
    assert under.get_markersize() >= over.get_markersize() + 4  # a rim of 2 points or more
    a, b = under.get_window_extent(), over.get_window_extent()
    assert a.x0 < b.x0 and a.y0 < b.y0 and a.x1 > b.x1 and a.y1 > b.y1
    assert under.get_visible() and over.get_visible()
    # Apart, they keep their own size.
    ax = _laid_out(_result(steepest=LRS[1], valley=LRS[2]))
    assert _marker(ax, "steepest").get_markersize() == _marker(ax, "valley").get_markersize()


def test_the_suggestion_stays_on_top_of_a_method_at_its_point() -> None:
    ax = _laid_out(_result(suggested=LRS[2]))
    diamond = _marker(ax, "suggested")
    assert diamond.get_markersize() == 9 and diamond.get_xdata()[0] == LRS[2]
    sizes = sorted(_marker(ax, n).get_markersize() for n in ("steepest", "valley"))
    assert sizes[0] > 9 and sizes[1] > sizes[0]
    assert all(_marker(ax, n).get_zorder() < diamond.get_zorder() for n in ("steepest", "valley"))


@pytest.mark.parametrize("lr", [1e308, 1e-308])
def test_an_lr_far_off_the_sweep_warns_nothing_and_keeps_the_axis(lr: float) -> None:
    result = _result(suggested=lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # lrfind's own filter for matplotlib stays out of it
        fig = plot_result(result)
        fig.savefig(io.BytesIO(), format="png")
    assert [str(w.message) for w in caught] == []
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    assert 1e-8 < left < LRS[0] and LRS[-1] < right < 1e2  # the sweep's range, not lr's
    pointer = _marker(ax, "suggested")
    assert pointer.get_marker() == (">" if lr > 1 else "<")
    assert pointer.get_label().endswith("(off the axis)")
    assert left < pointer.get_xdata()[0] < right
    label = next(t.get_text() for t in ax.texts if t.get_text().startswith("suggested lr"))
    assert f"{lr:.2g}" in label and "off the axis" in label


def test_the_legend_goes_below_the_axes_when_no_spot_inside_is_free() -> None:
    fig = plot_result(_result())
    ax = fig.axes[0]
    place_legend(ax, [ax.patch], fontsize=9)  # the whole axes to keep clear
    fig.draw_without_rendering()
    legend, axes = ax.get_legend().get_window_extent(), ax.get_window_extent()
    xaxis = ax.xaxis.get_tightbbox()
    assert legend.y1 <= xaxis.y0 < axes.y0 and legend.y0 >= 0  # under the label, on the canvas


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(
        [sys.executable, "-m", "lrfind", *argv], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_show_and_schedule_at_lr_1e308_print_no_library_warning(tmp_path: Path) -> None:
    report = report_dict(_result())
    report["suggested_lr"] = 1e308  # a hand edit: the reader takes any finite LR
    write_report(report, tmp_path / "report.json")
    shown = _cli("show", "report.json", "--out-dir", "shown", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert (tmp_path / "shown" / "lr_finder.png").stat().st_size > 0
    sched = _cli("schedule", "onecycle", "--lr", "1e308", "--out-dir", "sch", cwd=tmp_path)
    assert sched.returncode == 0, sched.stderr
    assert (tmp_path / "sch" / "schedules.png").stat().st_size > 0
    for run in (shown, sched):
        # lrfind's own "Warning: ..." lines may come (an LR far above the usual); numpy's
        # two lines of matplotlib source, "...scale.py:375: RuntimeWarning: overflow ...", not.
        assert "RuntimeWarning" not in run.stderr and "site-packages" not in run.stderr, run.stderr
    assert json.loads((tmp_path / "report.json").read_text())["suggested_lr"] == 1e308

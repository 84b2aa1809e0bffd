"""report.json, the plot and the table, from a hand-made result."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lrfind import SweepConfig, plot_result, read_report, report_dict, result_table, save_plot
from lrfind.core.curve import smooth
from lrfind.core.history import History
from lrfind.core.result import analyse
from lrfind.output.files import write_atomic
from lrfind.output.report import write_report
from lrfind.output.terminal import table_rows, uncertainty_line


def _result(stop: str = "diverged", nan_at_end: bool = False) -> object:
    lrs = list(np.geomspace(1e-6, 1.0, 61))
    losses = [1.0 + (math.log10(lr) + 2) ** 2 / 4 for lr in lrs]
    if nan_at_end:
        losses[-1] = math.nan
    history = History(lrs=lrs, losses=losses, smoothed=losses, stop_reason=stop)
    return analyse(history, SweepConfig(steps=61))


def _smoothed_result() -> object:
    r = _result()
    h = dataclasses.replace(r.history, smoothed=smooth(r.history.losses, 0.3))
    return dataclasses.replace(r, history=h, config=dataclasses.replace(r.config, smoothing=0.3))


def test_report_turns_nan_into_null_and_is_strict_json(tmp_path: Path) -> None:
    report = report_dict(_result("nan", nan_at_end=True), total_s=1.5)
    assert report["history"]["loss"][-1] is None
    path = write_report(report, tmp_path / "report.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert read_report(path) == report
    # The robust curve's minimum is the bowl's own (index 40); the suggestion is the left
    # edge of its basin, 0.5 noise scales above it, / 5. On this noise-free bowl the "noise"
    # is the curve's own step-to-step change (0.68), so the edge lies far out, between
    # points 28 and 29 (log-interpolated): 10 ** -3.1669 / 5.
    lrs = report["history"]["lr"]
    assert report["lr_at_min_loss"] == lrs[40]
    assert lrs[28] / 5 < report["suggested_lr"] < lrs[29] / 5
    assert report["suggested_lr"] == pytest.approx(10**-3.166946355813434 / 5, rel=1e-9)
    assert report["stopped_early"] is True and report["timing"]["total_s"] == 1.5


def test_report_replaces_the_old_one_atomically(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"old": true}')

    def fail_half_way(f: object) -> None:
        f.write(b'{"half": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, fail_half_way)
    assert json.loads(path.read_text()) == {"old": True}  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left
    write_report({"new": 1}, path)
    assert json.loads(path.read_text()) == {"new": 1}


def test_plot_is_a_png_with_log_axis_and_labels(tmp_path: Path) -> None:
    result = _smoothed_result()
    fig = plot_result(result)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "minimum" in texts and "suggested lr" in texts and "0.00014" in texts
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["loss (raw)", "loss (smoothed)"]
    path = save_plot(result, tmp_path / "lr.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_plotting_never_loads_pyplot(tmp_path: Path) -> None:
    # In a fresh process: a library loaded earlier in this one (torchmetrics does, with
    # lightning) may have imported pyplot itself; lrfind must not need its global state.
    code = (
        "import sys\n"
        "from lrfind.core.history import History\n"
        "from lrfind.core.result import analyse\n"
        "from lrfind import SweepConfig, save_plot\n"
        "lrs = [1e-5 * 10 ** (i / 10) for i in range(40)]\n"
        "losses = [2.0 - i / 40 for i in range(40)]\n"
        "h = History(lrs=lrs, losses=losses, smoothed=losses, stop_reason='completed')\n"
        f"save_plot(analyse(h, SweepConfig()), {str(tmp_path / 'lr.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lr.png").read_bytes().startswith(b"\x89PNG")


def test_table_rows_are_log_spaced() -> None:
    lrs = list(np.geomspace(1e-7, 10, 100))
    rows = table_rows(lrs, 20)
    assert rows[0] == 0 and rows[-1] == 99
    assert 18 <= len(rows) <= 20
    steps = np.diff(np.log10([lrs[i] for i in rows]))
    assert steps.max() - steps.min() < 0.1  # evenly spaced in log LR
    assert table_rows(lrs[:5], 20) == [0, 1, 2, 3, 4]


def test_table_marks_minimum_and_suggestion() -> None:
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(result_table(_result()))
    text = console.export_text()
    assert "◀ minimum" in text and "◀ suggested 1.36e-04" in text


def test_warning_when_the_loss_never_diverged() -> None:
    lrs = list(np.geomspace(1e-6, 1e-2, 50))
    falling = [5.0 - i * 0.05 for i in range(50)]
    result = analyse(
        History(lrs=lrs, losses=falling, smoothed=falling, stop_reason="completed"),
        SweepConfig(steps=50),
    )
    assert any("raise --end-lr" in w for w in result.warnings)
    # The same curve stopped by divergence would not warn about the end.
    rising_end = [*falling[:-1], 100.0]
    result = analyse(
        History(lrs=lrs, losses=rising_end, smoothed=rising_end, stop_reason="diverged"),
        SweepConfig(steps=50),
    )
    assert not any("--end-lr" in w for w in result.warnings)


def test_warning_when_the_minimum_is_at_the_start() -> None:
    lrs = list(np.geomspace(1e-6, 1.0, 50))
    rising = [1.0 + i * 0.1 for i in range(50)]
    result = analyse(
        History(lrs=lrs, losses=rising, smoothed=rising, stop_reason="diverged"),
        SweepConfig(steps=50),
    )
    # The minimum / divisor would lie below the swept range: no suggestion, never a clamp;
    # the reason gives the advice, once (no caveat repeating it).
    assert result.suggested_lr is None and "below the swept range" in result.suggestion.reason
    assert "start the sweep lower (--start-lr)" in result.suggestion.reason
    assert not any("lower --start-lr" in w for w in result.warnings)


def test_an_unsmoothed_curve_is_drawn_and_tabled_once(tmp_path: Path) -> None:
    r = _result()  # a history whose smoothed curve is the raw loss itself
    result = dataclasses.replace(
        r, history=dataclasses.replace(r.history, smoothed=r.history.losses)
    )
    labels = [line.get_label() for line in plot_result(result).axes[0].get_lines()]
    assert labels[0] == "loss" and not any("(" in label for label in labels[:2])
    headers = [c.header for c in result_table(result).columns]
    assert headers[:3] == ["step", "lr", "loss"] and "smoothed" not in headers
    assert "smoothed" in [c.header for c in result_table(_smoothed_result()).columns]


def test_plot_shades_the_tail_the_suggestions_ignore() -> None:
    assert not [
        p for p in plot_result(_result()).axes[0].patches if p.get_label().startswith("last")
    ]
    r = _result()  # 61 points: the last 3 are outside min_div_10's window (robust reads them)
    result = dataclasses.replace(r, method="min_div_10")
    ax = plot_result(result).axes[0]
    spans = [p for p in ax.patches if p.get_label().startswith("last 3 points")]
    assert len(spans) == 1
    left, right = spans[0].get_x(), spans[0].get_x() + spans[0].get_width()
    lrs = result.history.lrs
    assert lrs[-4] < left < lrs[-3] and right == pytest.approx(lrs[-1])


def test_the_confidence_line_never_prints_a_negative_share_of_the_drop() -> None:
    r = _result()
    up = dataclasses.replace(r.uncertainty, progress={"at_suggestion": -0.59, "decade_lower": 0.91})
    r.__dict__["uncertainty"] = up  # the cached property's value, as a curve that rose would give
    line = uncertainty_line(r)
    assert "above where it started at the suggestion, 91% of the way down a decade lower" in line
    assert "-59%" not in line


def test_repr_is_one_line_not_the_curve() -> None:
    # A notebook shows find_lr's result by its repr: the answer, not 61 steps of floats.
    result = _result()
    text = repr(result)
    assert text.startswith(f"SweepResult(suggested_lr={float(f'{result.suggested_lr:.4g}')}, ")
    assert f"stop_reason='diverged', steps_run={result.steps_run}" in text
    assert "\n" not in text and len(text) < 200
    assert repr(result.history) == (
        "History(steps_run=61, lrs=1e-06 to 1, stop_reason='diverged', optimizer='')"
    )


def test_write_atomic_makes_the_folder_and_names_the_path_on_failure(tmp_path: Path) -> None:
    # The Python API's save_plot/write_report are handed a path in a folder not made yet.
    path = write_atomic(tmp_path / "new" / "deeper" / "r.json", lambda f: f.write(b"{}"))
    assert path.read_bytes() == b"{}"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError) as caught:  # its "folder" is a file
        write_atomic(blocker / "r.json", lambda f: f.write(b"{}"))
    assert caught.value.filename == str(blocker / "r.json") and ".tmp" not in str(caught.value)


@pytest.mark.parametrize("bad", [0, 1, -5, 1.5, True, "1000", None])
def test_schedules_with_a_bad_total_steps_say_so(bad: object) -> None:
    # None means "no suggestion": a bad argument must not look like one.
    from lrfind import ConfigError

    with pytest.raises(ConfigError, match=r"total_steps=.*: must be an integer >= 2"):
        _result().schedules(bad)  # type: ignore[arg-type]
    assert _result().schedules(2) is not None


def test_an_early_nan_points_at_the_data_and_a_failed_sweep_has_no_minimum_advice() -> None:
    lrs = list(np.geomspace(1e-7, 10.0, 100))
    early = History(lrs=lrs[:3], losses=[2.3, 2.3, math.nan], smoothed=[2.3, 2.3, math.nan],
                    stop_reason="nan")  # fmt: skip
    result = analyse(early, SweepConfig(steps=100))
    assert any(
        w.startswith("the loss turned NaN/inf at step 3 of 100 (lr 1.45e-07): so small an LR")
        and "NaN or inf in the inputs or targets" in w
        for w in result.warnings
    ), result.warnings
    losses = [2.3, 2.2, 2.25, 2.4, 2.35, 2.3, 2.5, 2.6]
    failed = History(lrs=lrs[:8], losses=losses, smoothed=losses, stop_reason="error")
    assert not any("--start-lr" in w for w in analyse(failed, SweepConfig(steps=100)).warnings)

"""`lrfind schedule`: the real torch schedulers, stepped; names, defaults, table and plot."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.errors import UsageError
from lrfind.tools.figures import schedule_figure
from lrfind.tools.schedule import simulate
from lrfind.tools.schedulers import SCHEDULES, Options, resolve_names

from .test_cli import _modules_after

runner = CliRunner()


def test_steplr_decays_tenfold_every_third_of_the_run() -> None:
    assert simulate("steplr", 0.1, 6).lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3])


def test_cosine_runs_from_lr_to_eta_min_through_half_at_the_middle() -> None:
    lrs = simulate("cosineannealinglr", 1.0, 5, Options(eta_min=0.2)).lrs
    assert lrs[0] == 1.0 and lrs[2] == pytest.approx(0.6) and lrs[-1] == pytest.approx(0.2)


def test_onecycle_defaults_start_at_lr_over_25_and_peak_at_lr() -> None:
    lrs = simulate("onecyclelr", 0.1, 100).lrs
    assert lrs[0] == pytest.approx(0.1 / 25)
    assert max(lrs) == pytest.approx(0.1) and lrs.index(max(lrs)) == 29  # pct_start 0.3
    assert lrs[-1] == pytest.approx(0.1 / 25 / 1e4)


def test_cyclic_defaults_run_between_lr_over_10_and_lr_every_quarter() -> None:
    lrs = simulate("cycliclr", 0.1, 9).lrs  # step_size_up = 9 // 4 = 2
    assert lrs == pytest.approx([0.01, 0.055, 0.1, 0.055, 0.01, 0.055, 0.1, 0.055, 0.01])


def test_warmup_cosine_rises_linearly_then_anneals_to_zero() -> None:
    lrs = simulate("warmup_cosine", 1.0, 12, Options(warmup_steps=2, warmup_start_factor=0.5)).lrs
    assert lrs[:3] == pytest.approx([0.5, 0.75, 1.0])
    assert all(a >= b for a, b in itertools.pairwise(lrs[2:])) and lrs[-1] == 0


def test_exponential_default_ends_100x_lower() -> None:
    lrs = simulate("exponentiallr", 1.0, 11).lrs
    assert lrs[-1] == pytest.approx(0.01, rel=1e-4)


def test_plateau_is_driven_by_the_losses_given() -> None:
    flat = Options(plateau_losses=(1.0,) * 7, patience=1)
    falling = Options(plateau_losses=tuple(1.0 - i / 10 for i in range(7)), patience=1)
    assert simulate("reducelronplateau", 1.0, 8, flat).lrs == pytest.approx(
        [1, 1, 1, 0.1, 0.1, 0.01, 0.01, 1e-3]
    )
    assert simulate("reducelronplateau", 1.0, 8, falling).lrs == [1.0] * 8
    with pytest.raises(UsageError, match="--plateau-losses"):
        simulate("reducelronplateau", 1.0, 8)


def test_names_are_case_insensitive_with_aliases_and_unknown_lists_the_valid() -> None:
    assert resolve_names(["OneCycle", "cosine", "Warmup-Cosine", "StepLR", "plateau"]) == [
        "onecyclelr",
        "cosineannealinglr",
        "warmup_cosine",
        "steplr",
        "reducelronplateau",
    ]
    with pytest.raises(UsageError) as e:
        resolve_names(["cosine", "linear_decay"])
    assert "'linear_decay'" in str(e.value) and all(n in str(e.value) for n in SCHEDULES)


def test_every_scheduler_steps_and_records_one_lr_per_step() -> None:
    losses = Options(plateau_losses=(1.0,) * 49)
    for name in SCHEDULES:
        trace = simulate(name, 0.1, 50, losses)
        assert len(trace.lrs) == 50 and all(math.isfinite(x) and x >= 0 for x in trace.lrs)
        assert max(trace.lrs) <= 0.1 * (1 + 1e-9), name


def test_torch_rejections_become_usage_errors() -> None:
    with pytest.raises(UsageError, match="OneCycleLR rejected"):
        simulate("onecyclelr", 0.1, 10, Options(anneal_strategy="sideways"))
    with pytest.raises(UsageError, match="--pct-start 1.5: must be a fraction from 0 to 1"):
        simulate("onecyclelr", 0.1, 10, Options(pct_start=1.5))  # checked before torch sees it


def test_cli_table_calls_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "schedules.png"
    args = ["schedule", "OneCycle", "steplr", "--lr", "0.1", "--steps", "100"]
    args += ["--out-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LR per step (100 steps)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "steplr " in line)
    # steps 0, 25, 50, 75, 99, then min and max: StepLR(step_size=33) decays at 33, 66, 99.
    cells = [c.strip() for c in row.split("│")[2:9]]
    assert cells == ["0.1", "0.1", "0.01", "0.001", "0.0001", "0.0001", "0.1"]
    assert "StepLR(optimizer, step_size=33, gamma=0.1)" in result.stdout
    assert "OneCycleLR(optimizer, max_lr=0.1, total_steps=100" in result.stdout
    assert out.read_bytes().startswith(b"\x89PNG")


def test_figure_has_one_labelled_line_per_scheduler_with_its_lrs() -> None:
    traces = [simulate("steplr", 0.1, 6), simulate("cosineannealinglr", 0.1, 6)]
    for overlay in (False, True):
        fig = schedule_figure(traces, 0.1, log_y=True, overlay=overlay)
        lines = [ln for ax in fig.axes for ln in ax.lines if not ln.get_label().startswith("_")]
        assert [ln.get_label() for ln in lines] == ["steplr", "cosineannealinglr"]
        assert list(lines[0].get_ydata()) == traces[0].lrs
        assert list(lines[1].get_ydata()) == traces[1].lrs
        assert fig.axes[0].get_yscale() == "log"


def _report(tmp_path: Path, lr: float | None) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": 1, "suggested_lr": lr, "stop_reason": "nan"}))
    return path


def test_from_report_takes_the_suggested_lr(tmp_path: Path) -> None:
    report = _report(tmp_path, 0.02)
    result = runner.invoke(app, ["schedule", "cosine", "--from-report", str(report), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "│ cosineannealinglr │   0.02 │" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cosine", "--from-report", "missing.json"], "missing.json: no such file"),
        (["cosine", "--from-report", "{bad}"], "not valid JSON"),
        (["cosine", "--from-report", "{null}"], "suggested no LR (stop: nan); give --lr"),
        (["cosine"], "give the LR with --lr X or --from-report"),
        (["cosine", "--lr", "0.1", "--from-report", "{null}"], "(one of them)"),
        (["cosine", "--lr", "-1"], "--lr -1.0: must be a number > 0"),
        (["cosine", "--lr", "0.1", "--steps", "1"], "--steps 1: must be from 2"),
        (["multistep", "--lr", "0.1", "--milestones", "5;9"], "--milestones '5;9'"),
        (["plateau", "--lr", "0.1"], "--plateau-losses FILE with at least 99 losses"),
        (["bogus", "--lr", "0.1"], "unknown scheduler 'bogus'; choose from: steplr"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    args = [
        a.replace("{bad}", str(bad)).replace("{null}", str(_report(tmp_path, None))) for a in args
    ]
    result = runner.invoke(app, ["schedule", *args, "--no-plot"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_plateau_losses_from_a_file(tmp_path: Path) -> None:
    log = tmp_path / "losses.csv"
    log.write_text("epoch,train_loss\n" + "".join(f"{i},1.0\n" for i in range(9)))
    args = ["schedule", "plateau", "--lr", "1", "--steps", "10", "--patience", "2"]
    result = runner.invoke(app, [*args, "--plateau-losses", str(log), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=2" in result.stdout


def test_unknown_name_is_reported_without_importing_torch() -> None:
    assert _modules_after(["schedule", "nope", "--lr", "0.1"]) == (set(), 2)

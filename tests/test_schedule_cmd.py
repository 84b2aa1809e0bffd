"""`lrfind schedule`: the real torch schedulers, stepped; names, defaults, table and plot."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.core.plan import plan
from lrfind.errors import UsageError
from lrfind.tools.figures import schedule_figure
from lrfind.tools.report_plan import ReportPlan
from lrfind.tools.schedule import simulate, simulate_planned
from lrfind.tools.schedulers import SCHEDULES, Options, resolve_names

from .conftest import TINY
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


@pytest.mark.parametrize("names", [["onecyclelr"], ["onecyclelr", "cosineannealinglr"]])
def test_the_title_fits_the_figure(names: list[str]) -> None:
    """One panel is 4.2 inches wide: the one-line title ran off both sides."""
    traces = [simulate(name, 0.0697, 1000) for name in names]
    fig = schedule_figure(traces, 0.0697, origin="report.json's LR")
    fig.canvas.draw()
    title = fig._suptitle.get_window_extent()  # type: ignore[union-attr]
    whole = fig.bbox
    assert whole.x0 <= title.x0 and title.x1 <= whole.x1 and title.y1 <= whole.y1


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
        # The default warmup is not an option the user gave: the steps are named instead.
        (["warmup", "--lr", "0.1", "--steps", "2"], "--steps 2: warmup_cosine needs at least 3"),
        (["multistep", "--lr", "0.1", "--milestones", "5;9"], "--milestones '5;9'"),
        (["plateau", "--lr", "0.1"], "--plateau-losses FILE with at least 99 losses"),
        (["bogus", "--lr", "0.1"], "unknown scheduler 'bogus'; choose from: steplr"),
        # Options that contradict the LR or the run: an inverted cycle, a floor above the
        # LR, a milestone never reached.
        (
            ["cyclic", "--lr", "0.1", "--base-lr", "0.5"],
            "--base-lr 0.5: must be below the cycle's peak, --lr 0.1",
        ),
        (
            ["cosine", "--lr", "0.1", "--eta-min", "0.2"],
            "--eta-min 0.2: must be below the LR it anneals from, --lr 0.1",
        ),
        (
            ["multistep", "--lr", "0.1", "--milestones", "50,150"],
            "--milestones 150: after the last of --steps 100: never reached",
        ),
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


# --from-report on a report with a plan: the schedules `lrfind run` printed, per param group.
PLANNED_CALLS = {
    "onecyclelr": "OneCycleLR(optimizer, max_lr=[0.01, 0.1], total_steps=1000, div_factor=20, "
    "final_div_factor=10000, pct_start=0.3)",
    "cycliclr": "CyclicLR(optimizer, base_lr=[0.0005, 0.005], max_lr=[0.01, 0.1], "
    "step_size_up=125, mode='triangular', cycle_momentum=False)",
    "warmup_cosine": "SequentialLR(optimizer, schedulers=[LinearLR(optimizer, start_factor=0.05, "
    "end_factor=1, total_iters=50), CosineAnnealingLR(optimizer, T_max=950)], milestones=[50])"
    "  # optimizer lrs=[0.01, 0.1]",
}
GROUPS_LINE = "(lists: one LR per param group, in the ratios the sweep kept;"


def _planned_report(tmp_path: Path, ratios: list[float] | None = None, **extra: object) -> Path:
    """A report as `lrfind run` writes its plan: suggestion 0.01, the loss falling 5e-4 to 0.05."""
    report: dict[str, object] = {
        "schema_version": 1,
        "suggested_lr": 0.01,
        "stop_reason": "diverged",
        "schedules": {"total_steps": 1000, "base_lr": 0.0005, "max_lr": 0.05, "peak_lr": 0.01},
    }
    if ratios is not None:
        groups = [{"lr_ratio": r, "lr_at_suggestion": 0.01 * r, "params": 2} for r in ratios]
        report["training"] = {"optimizer": "SGD", "param_groups": groups}
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**report, **extra}))
    return path


def _calls(stdout: str) -> dict[str, str]:
    """scheduler name -> its call, from the lines after the table."""
    pairs = (line.split(": ", 1) for line in stdout.splitlines() if ": " in line)
    return {name: call for name, call in pairs if name in SCHEDULES}


def _schedule_ok(args: list[str]) -> str:
    """`lrfind schedule ARGS --no-plot`, which must succeed; its stdout."""
    result = runner.invoke(app, ["schedule", *args, "--no-plot"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_from_report_plans_as_run_did_with_one_lr_per_group(tmp_path: Path) -> None:
    report = _planned_report(tmp_path, [1.0, 10.0])
    args = ["schedule", "onecycle", "cyclic", "warmup", "--from-report", str(report), "--no-plot"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LR per step (1000 steps)" in result.stdout  # the plan's length, not --steps' 100
    assert _calls(result.stdout) == PLANNED_CALLS
    assert result.stdout.splitlines()[-1].startswith(GROUPS_LINE)


@pytest.mark.parametrize("ratios", [None, [1.0], [1.0, 10.0], [0.5, 1.0, 2.0], [0.8]])
@pytest.mark.parametrize("steps", [1000, 400])
def test_from_report_calls_are_the_plans_that_run_prints(
    tmp_path: Path, ratios: list[float] | None, steps: int
) -> None:
    """The calls are Schedule.summary of lrfind.core.plan.plan, what run's terminal prints."""
    made = plan([], [], 0.01, steps, (0.0005, 0.05), ratios)
    assert made is not None
    report = _planned_report(tmp_path, ratios, schedules=made.to_dict() | {"total_steps": 1000})
    args = ["schedule", "onecycle", "cyclic", "warmup", "--from-report", str(report)]
    result = runner.invoke(app, [*args, "--steps", str(steps), "--no-plot"])
    assert result.exit_code == 0, result.output
    calls = _calls(result.stdout)
    assert calls["onecyclelr"] == made.schedules["one_cycle"].summary
    assert calls["cycliclr"] == made.schedules["cyclic"].summary
    peaks = made.schedules["warmup_cosine"].kwargs.get("group_peak_lrs")
    lr = f"lrs={peaks}" if peaks else "lr=0.01"  # as run's terminal notes the peak
    assert calls["warmup_cosine"] == f"{made.schedules['warmup_cosine'].summary}  # optimizer {lr}"
    assert (GROUPS_LINE in result.stdout) == (peaks is not None)


def test_planned_traces_step_group_0_of_as_many_groups() -> None:
    source = ReportPlan(0.01, 0.0005, 0.05, 1000, (1.0, 10.0))
    one = simulate_planned("onecyclelr", source, 1000).lrs
    assert one[0] == pytest.approx(0.0005) and one[-1] == pytest.approx(0.0005 / 1e4)
    assert max(one) == pytest.approx(0.01) and one.index(max(one)) == 299  # pct_start 0.3
    cyc = simulate_planned("cycliclr", source, 1000).lrs
    assert [cyc[0], cyc[125], cyc[250]] == pytest.approx([0.0005, 0.01, 0.0005])
    warm = simulate_planned("warmup_cosine", source, 1000)
    assert warm.lrs[:2] == pytest.approx([0.0005, 0.0005 + 0.0095 / 50])
    assert warm.lrs[50] == pytest.approx(0.01) and warm.note == "# optimizer lrs=[0.01, 0.1]"


def test_from_report_options_given_replace_the_planned_values(tmp_path: Path) -> None:
    report = _planned_report(tmp_path, [1.0, 10.0])
    args = ["onecycle", "cyclic", "warmup", "--from-report", str(report)]
    args += ["--steps", "400", "--div-factor", "25", "--anneal-strategy", "linear"]
    args += ["--base-lr", "1e-4", "--cyclic-mode", "triangular2", "--step-size-up", "20"]
    args += ["--warmup-steps", "40", "--warmup-start-factor", "0.01", "--eta-min", "1e-6"]
    assert _calls(_schedule_ok(args)) == {
        "onecyclelr": "OneCycleLR(optimizer, max_lr=[0.01, 0.1], total_steps=400, div_factor=25, "
        "final_div_factor=10000, pct_start=0.3, anneal_strategy='linear')",
        # --base-lr is group 0's: the other groups keep their ratio.
        "cycliclr": "CyclicLR(optimizer, base_lr=[0.0001, 0.001], max_lr=[0.01, 0.1], "
        "step_size_up=20, mode='triangular2', cycle_momentum=False)",
        "warmup_cosine": "SequentialLR(optimizer, schedulers=[LinearLR(optimizer, "
        "start_factor=0.01, end_factor=1, total_iters=40), CosineAnnealingLR(optimizer, "
        "T_max=360, eta_min=1e-06)], milestones=[40])  # optimizer lrs=[0.01, 0.1]",
    }


@pytest.mark.parametrize("ratios", [None, [1.0]])
def test_from_report_with_one_group_plans_single_lrs(
    tmp_path: Path, ratios: list[float] | None
) -> None:
    """Without training.param_groups (an older report), or with one group: plain floats."""
    report = _planned_report(tmp_path, ratios)
    stdout = _schedule_ok(["onecycle", "cyclic", "warmup", "cosine", "--from-report", str(report)])
    assert _calls(stdout) == {
        "onecyclelr": "OneCycleLR(optimizer, max_lr=0.01, total_steps=1000, div_factor=20, "
        "final_div_factor=10000, pct_start=0.3)",
        "cycliclr": "CyclicLR(optimizer, base_lr=0.0005, max_lr=0.01, step_size_up=125, "
        "mode='triangular', cycle_momentum=False)",
        "warmup_cosine": "SequentialLR(optimizer, schedulers=[LinearLR(optimizer, "
        "start_factor=0.05, end_factor=1, total_iters=50), CosineAnnealingLR(optimizer, "
        "T_max=950)], milestones=[50])  # optimizer lr=0.01",
        # No plan for it: the suggestion as --lr, over the plan's length.
        "cosineannealinglr": "CosineAnnealingLR(optimizer, T_max=999, eta_min=0)",
    }
    assert GROUPS_LINE not in stdout


@pytest.mark.parametrize("schedules", ["absent", None])
def test_from_report_without_a_plan_takes_the_suggestion_as_before(
    tmp_path: Path, schedules: object
) -> None:
    """An older report (no "schedules") or a loss that never fell (null): --lr's defaults."""
    report = _planned_report(tmp_path, [1.0, 10.0])
    saved = json.loads(report.read_text())
    if schedules == "absent":
        del saved["schedules"]
    else:
        saved["schedules"] = schedules
    report.write_text(json.dumps(saved))
    args = ["schedule", "onecycle", "cyclic", "--from-report", str(report), "--no-plot"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "LR per step (100 steps)" in result.stdout
    assert _calls(result.stdout) == {
        "onecyclelr": "OneCycleLR(optimizer, max_lr=0.01, total_steps=100, pct_start=0.3, "
        "anneal_strategy='cos', div_factor=25, final_div_factor=10000)",
        "cycliclr": "CyclicLR(optimizer, base_lr=0.001, max_lr=0.01, step_size_up=25, "
        "mode='triangular', cycle_momentum=False)",
    }


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"schedules": [1]}, "'schedules' is [1], expected an object or null"),
        ({"schedules": {"total_steps": 1000, "max_lr": 0.05}}, "'schedules.base_lr' is missing"),
        (
            {"schedules": {"total_steps": 1000, "base_lr": None, "max_lr": 0.05}},
            "'schedules.base_lr' is null, expected",
        ),
        ({"schedules": {"total_steps": 1000, "base_lr": 0.0, "max_lr": 0.05}}, "is 0.0, expected"),
        ({"schedules": {"total_steps": 1.5, "base_lr": 1e-3, "max_lr": 0.05}}, "total_steps' is"),
        ({"training": "SGD"}, "'training' is 'SGD', expected an object or null"),
        ({"training": {"param_groups": {"lr_ratio": 1}}}, "'training.param_groups' is {"),
        (
            {"training": {"param_groups": [{"lr_ratio": 1.0}, {"lr_ratio": -10}]}},
            "'training.param_groups[1].lr_ratio' is -10, expected an LR (a number > 0)",
        ),
    ],
)
def test_from_report_bad_plan_keys_exit_2_naming_the_key(
    tmp_path: Path, edit: dict[str, object], message: str
) -> None:
    report = _planned_report(tmp_path, None, **edit)
    result = runner.invoke(app, ["schedule", "onecycle", "--from-report", str(report), "--no-plot"])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_from_report_base_lr_above_the_planned_peak_is_a_usage_error(tmp_path: Path) -> None:
    report = _planned_report(tmp_path, None)  # suggested 0.01
    args = ["schedule", "cyclic", "--from-report", str(report), "--base-lr", "0.05", "--no-plot"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--base-lr 0.05: must be below the cycle's peak, the report's LR 0.01" in result.stderr


def test_run_and_schedule_from_its_report_print_the_same_plan(tmp_path: Path) -> None:
    """End to end: tiny.build_groups (head at 10x the body), swept, then scheduled."""
    args = ["run", f"{TINY}:build_groups", "--no-plot", "--out-dir", str(tmp_path)]
    run = runner.invoke(app, args)
    assert run.exit_code == 0, run.output
    printed = {}
    for line in run.stdout.splitlines():
        label, _, call = line.strip().partition(" ")
        if label in ("one-cycle", "cyclic", "warmup+cosine"):
            printed[label] = call.strip()
    assert "max_lr=[" in printed["one-cycle"]  # two groups: lists
    args = ["schedule", "onecycle", "cyclic", "warmup", "--no-plot"]
    result = runner.invoke(app, [*args, "--from-report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    calls = _calls(result.stdout)
    assert calls["onecyclelr"] == printed["one-cycle"]
    assert calls["cycliclr"] == printed["cyclic"]
    assert calls["warmup_cosine"] == printed["warmup+cosine"]


def test_the_plots_reference_line_is_where_group_0_peaks_under_an_lr_scale() -> None:
    # timm's layer decay: group 0 carries lr_scale 0.04, so its schedules peak at 0.04 x the
    # headline LR; the dotted line sat at the headline and they seemed never to reach it.
    from lrfind.cli.schedule import reference_lr

    scaled = ReportPlan(0.01, 0.0005, 0.05, 1000, (0.04, 1.0))
    traces = [simulate_planned(name, scaled, 1000) for name in ("onecyclelr", "cycliclr")]
    line, title = reference_lr(traces, 0.01, scaled, "report.json's LR")
    assert line == pytest.approx(max(traces[0].lrs)) == pytest.approx(0.0004)
    assert title == "report.json's LR 0.01 x group 0's lr_scale 0.04 ="
    plain = ReportPlan(0.01, 0.0005, 0.05, 1000, (1.0, 10.0))
    assert reference_lr(traces, 0.01, plain, None) == (0.01, None)

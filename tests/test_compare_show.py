"""`lrfind compare` (drift in decades, exit codes) and `lrfind show` (a saved report, no torch)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from lrfind import SweepConfig, plot_result, report_dict, result_table
from lrfind.cli import app
from lrfind.core.history import History
from lrfind.core.result import analyse
from lrfind.output.reader import read_report, result_from_report
from lrfind.tools.compare import compare_files

from .test_cli import _modules_after

runner = CliRunner()


def _write(tmp_path: Path, name: str, **fields: Any) -> Path:
    report = {"schema_version": 1, "method": "min_div_10", "stop_reason": "diverged"}
    report.update(steps_run=80, **fields)
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def _compare(tmp_path: Path, base_lr: Any, new_lr: Any, *extra: str, **new: Any) -> Any:
    base = _write(tmp_path, "base.json", suggested_lr=base_lr)
    other = _write(tmp_path, "new.json", suggested_lr=new_lr, **new)
    return runner.invoke(app, ["compare", str(base), str(other), *extra])


def test_drift_is_log10_of_the_ratio(tmp_path: Path) -> None:
    base = _write(tmp_path, "b.json", suggested_lr=1e-2)
    new = _write(tmp_path, "n.json", suggested_lr=1e-3)
    c = compare_files(base, new, 0.3)
    assert c.drift == pytest.approx(-1.0) and not c.ok and c.failure is None
    assert compare_files(base, base, 0.0).drift == 0 and compare_files(base, base, 0.0).ok


def test_a_drift_past_the_tolerance_exits_1(tmp_path: Path) -> None:
    result = _compare(tmp_path, 0.01, 0.02, "--tolerance", "0.3")  # log10(2) = 0.301
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("baseline  0.01 ") and lines[1].startswith("new       0.02 ")
    assert lines[2] == "drift     +0.301 decades (new is 2x higher); tolerance 0.3"
    assert lines[3] == "FAIL: the suggestion moved more than 0.3 decades"


def test_a_drift_within_the_tolerance_exits_0(tmp_path: Path) -> None:
    result = _compare(tmp_path, 0.01, 0.02, "--tolerance", "0.31")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "OK: within 0.31 decades"


@pytest.mark.parametrize(
    ("new_lr", "new", "why"),
    [
        (None, {"stop_reason": "nan"}, "no suggested LR (stop: nan)"),
        (0.01, {"stop_reason": "interrupted"}, "the sweep stopped on 'interrupted'"),
        (0.01, {"error": "RuntimeError: boom"}, "the sweep stopped on 'error'"),
    ],
)
def test_a_failed_new_sweep_exits_1(tmp_path: Path, new_lr: Any, new: Any, why: str) -> None:
    result = _compare(tmp_path, 0.01, new_lr, **new)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == f"FAIL: the new sweep failed: {why}"


def test_a_nan_stop_with_a_suggestion_is_a_sweep_that_ended_not_failed(tmp_path: Path) -> None:
    # `lrfind run` exits 0 on such a sweep; compare judges its drift like any other.
    result = _compare(tmp_path, 0.01, 0.012, stop_reason="nan")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("OK: within")


def test_json_output(tmp_path: Path) -> None:
    result = _compare(tmp_path, 0.1, 0.001, "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["drift_decades"] == pytest.approx(-2.0)
    assert out["baseline"]["suggested_lr"] == 0.1 and out["new"]["suggested_lr"] == 0.001


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("missing.json", "missing.json: no such file"),
        ("{not json", "not valid JSON"),
        ('{"schema_version": ' + "9" * 5000 + "}", "not readable JSON (Exceeds the limit"),
        ('{"suggested_lr": 0.1}', "not an lrfind report (missing schema_version, stop_reason)"),
        ('{"schema_version": 1, "suggested_lr": "x", "stop_reason": "diverged"}', "expected a"),
        ('{"schema_version": 1, "suggested_lr": null, "stop_reason": "nan"}', "no suggested LR"),
        (
            '{"schema_version": 1, "suggested_lr": 0.1, "stop_reason": "interrupted"}',
            "the baseline is unusable: the sweep stopped on 'interrupted'",
        ),
    ],
)
def test_bad_reports_exit_2(tmp_path: Path, base: str, message: str) -> None:
    path = tmp_path / "missing.json"
    if base != "missing.json":
        path.write_text(base)
    new = _write(tmp_path, "new.json", suggested_lr=0.1)
    result = runner.invoke(app, ["compare", str(path), str(new)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and result.stdout == ""


def test_a_drift_past_the_float_range_is_still_a_number_of_decades(tmp_path: Path) -> None:
    # 1e-300 / 1e308 underflows to 0 and 10 ** 608 overflows: neither may end compare.
    result = _compare(tmp_path, 1e308, 1e-300)
    assert result.exit_code == 1, result.output
    assert "drift     -608.00 decades (new is 10^608x lower)" in result.stdout


def test_a_repeats_run_cut_short_by_ctrl_c_is_an_interrupted_sweep(tmp_path: Path) -> None:
    # 1 of 3 repeats finished (the run exited 130): compare does not take it for a whole run.
    cut = {"config": {"repeats": 3}, "repeats": {"count": 1}}
    result = _compare(tmp_path, 0.01, 0.01, **cut)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[-1] == (
        "FAIL: the new sweep failed: the sweep stopped on 'interrupted'"
    )
    whole = {"config": {"repeats": 3}, "repeats": {"count": 3}}
    assert _compare(tmp_path, 0.01, 0.01, **whole).exit_code == 0


def test_a_note_says_when_the_sweeps_were_set_up_differently(tmp_path: Path) -> None:
    base = _write(tmp_path, "b.json", suggested_lr=0.07, training={"optimizer": "SGD"},
                  config={"steps": 100, "start_lr": 1e-7})  # fmt: skip
    new = _write(tmp_path, "n.json", suggested_lr=0.003, training={"optimizer": "AdamW"},
                 config={"steps": 120, "start_lr": 1e-7})  # fmt: skip
    result = runner.invoke(app, ["compare", str(base), str(new)])
    assert result.stdout.splitlines()[-1] == (
        "note: the sweeps differ (optimizer SGD vs AdamW; steps 100 vs 120): some drift is "
        "expected from that alone"
    )
    same = runner.invoke(app, ["compare", str(base), str(base)])
    assert "note:" not in same.stdout


def test_negative_tolerance_exits_2(tmp_path: Path) -> None:
    result = _compare(tmp_path, 0.1, 0.1, "--tolerance", "-1")
    assert result.exit_code == 2 and "--tolerance -1.0: must be" in result.stderr


def test_compare_imports_neither_torch_nor_matplotlib(tmp_path: Path) -> None:
    base = _write(tmp_path, "b.json", suggested_lr=0.1)
    new = _write(tmp_path, "n.json", suggested_lr=0.001)
    heavy, code = _modules_after(["compare", str(base), str(new)])
    assert code == 1 and "torch" not in heavy and "matplotlib" not in heavy


def _result(nan_at_end: bool = False) -> Any:
    lrs = list(np.geomspace(1e-6, 1.0, 61))
    losses = [1.0 + (math.log10(lr) + 2) ** 2 / 4 for lr in lrs]
    if nan_at_end:
        losses[-1] = math.nan
    return analyse(
        History(
            lrs=lrs, losses=losses, smoothed=losses, stop_reason="nan" if nan_at_end else "diverged"
        ),
        SweepConfig(),
    )


def _saved(tmp_path: Path, result: Any) -> Path:
    path = tmp_path / "run" / "report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(report_dict(result), allow_nan=False))
    return path


def test_a_saved_report_rebuilds_the_same_result(tmp_path: Path) -> None:
    original = _result(nan_at_end=True)
    path = _saved(tmp_path, original)
    rebuilt = result_from_report(read_report(path))
    assert rebuilt.history.lrs == original.history.lrs
    assert rebuilt.history.losses[:-1] == original.history.losses[:-1]
    assert math.isnan(rebuilt.history.losses[-1])
    assert rebuilt.suggestions == original.suggestions
    assert rebuilt.min_index == original.min_index and rebuilt.stop_reason == "nan"
    fig = plot_result(rebuilt)  # the raw loss and, bold, the robust curve the suggestion read
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    assert list(lines["loss (robust curve)"].get_ydata())[:-1] == original.history.smoothed[:-1]
    assert rebuilt.uncertainty == original.uncertainty  # recomputed from the raw losses


def test_show_redraws_the_plot_run_drew_repeats_and_optimizer_too(tmp_path: Path) -> None:
    # show used to draw a plainer plot over run's: no repeats band, no optimizer in the title.
    import torch

    from lrfind import Task, find_lr
    from lrfind.output.plot import _title

    from .assets import tiny

    model, loader, loss = tiny.build()
    task = Task(model, loader, loss, optimizer=torch.optim.AdamW(model.parameters()))
    original = find_lr(task, repeats=3, steps=30)
    rebuilt = result_from_report(read_report(_saved(tmp_path, original)))
    assert _title(rebuilt) == _title(original)
    assert _title(rebuilt).startswith("LR range test: AdamW, 3 repeats; bold: seed ")
    assert rebuilt.training is not None and original.training is not None
    assert rebuilt.training.lines() == original.training.lines()
    assert rebuilt.repeats is not None and original.repeats is not None
    assert rebuilt.repeats.lrs == original.repeats.lrs
    for a, b in zip(rebuilt.repeats.runs, original.repeats.runs, strict=True):
        assert (a.seed, a.history.lrs, a.history.smoothed) == (
            b.seed,
            b.history.lrs,
            b.history.smoothed,
        )
    drawn = [
        sorted(str(x.get_gid()) for x in plot_result(r).axes[0].get_children() if x.get_gid())
        for r in (original, rebuilt)
    ]
    assert drawn[0] == drawn[1] and "repeats-band" in drawn[0]
    # A hand-edited report whose extras are broken still shows its curve, without them.
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    report["repeats"]["runs"][0]["history"] = "gone"
    report["training"]["param_groups"] = [{"lr_ratio": "x"}]
    plain = result_from_report(report)
    assert plain.repeats is None and plain.training is None
    assert plain.history.lrs == original.history.lrs


def test_show_prints_the_same_table_and_writes_the_plot(tmp_path: Path) -> None:
    original = _result()
    path = _saved(tmp_path, original)
    result = runner.invoke(app, ["show", str(path)])
    assert result.exit_code == 0, result.output
    expected = runner.invoke(app, ["show", str(path), "--no-plot"]).stdout
    assert result.stdout == expected and "◀ minimum" in expected and "◀ suggested" in expected
    assert result.stdout.splitlines()[-1] == (
        "Suggested learning rate: 0.000136 (robust; diverged after 61 steps)"
    )
    assert (path.parent / "lr_finder.png").read_bytes().startswith(b"\x89PNG")
    table = result_table(original)
    assert table.title in result.stdout


def test_show_prints_what_run_printed(tmp_path: Path, tiny_spec: str) -> None:
    # The table, what was swept, the schedules, the repeats' stability, the suggestion.
    ran = runner.invoke(app, ["run", tiny_spec, "--repeats", "2", "--out-dir", str(tmp_path)])
    assert ran.exit_code == 0, ran.output
    shown = runner.invoke(app, ["show", str(tmp_path / "report.json"), "--no-plot"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == ran.stdout
    assert "Swept: " in shown.stdout and "Schedules for a 1000-step run" in shown.stdout
    assert "Stable: 2 repeats" in shown.stdout or "Unstable: 2 repeats" in shown.stdout


def test_show_out_dir_and_no_suggestion(tmp_path: Path) -> None:
    report = json.loads(_saved(tmp_path, _result()).read_text())
    report.update(suggested_lr=None, suggestions={"robust": None})
    report["no_suggestion_reasons"] = {"robust": "the loss never decreases"}
    path = tmp_path / "none.json"
    path.write_text(json.dumps(report))
    result = runner.invoke(app, ["show", str(path), "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "no suggested LR: the loss never decreases" in result.stderr
    assert (tmp_path / "o" / "lr_finder.png").exists()
    report["no_suggestion_reasons"] = {}  # hand-edited: Python's None was printed
    path.write_text(json.dumps(report))
    result = runner.invoke(app, ["show", str(path), "--no-plot"])
    assert result.exit_code == 1
    assert "no suggested LR: it gives no reason (a hand-edited report?) (" in result.stderr


def test_show_prints_no_control_characters_from_a_report(tmp_path: Path) -> None:
    """A report from elsewhere (a CI artifact) must not recolour or rewrite the terminal."""
    report = json.loads(_saved(tmp_path, _result()).read_text())
    report["warnings"] = ["red \x1b[31mANSI\x1b[0m and a bell \x07"]
    path = tmp_path / "esc.json"
    path.write_text(json.dumps(report))
    result = runner.invoke(app, ["show", str(path), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "red \ufffd[31mANSI\ufffd[0m and a bell \ufffd" in result.stderr


def test_show_gives_a_failed_reports_error_in_one_short_line(tmp_path: Path) -> None:
    report = json.loads(_saved(tmp_path, _result()).read_text())
    report["error"] = "RuntimeError: " + "boom\n" * 400  # a hand-kept or huge message
    path = tmp_path / "failed.json"
    path.write_text(json.dumps(report))
    result = runner.invoke(app, ["show", str(path), "--no-plot"])
    assert result.exit_code == 1
    line = next(x for x in result.stderr.splitlines() if x.startswith("Error:"))
    assert "the report is of a sweep that failed: RuntimeError: boom boom" in line
    assert "more characters; --debug shows all" in line and len(line) < 400


def test_a_hand_edited_suggested_lr_is_the_headline_everywhere(tmp_path: Path) -> None:
    # compare reads suggested_lr; show and --from-report read it too, not suggestions[method].
    report = json.loads(_saved(tmp_path, _result()).read_text())
    report["suggested_lr"] = 0.01
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(report))
    shown = runner.invoke(app, ["show", str(path), "--no-plot"])
    assert shown.stdout.splitlines()[-1].startswith("Suggested learning rate: 0.01 (")
    assert read_report(path)["suggested_lr"] == 0.01
    assert result_from_report(read_report(path), path).suggested_lr == 0.01


def test_show_bad_report_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text('{"schema_version": 1, "suggested_lr": 0.1, "stop_reason": "diverged"}')
    result = runner.invoke(app, ["show", str(path)])
    assert result.exit_code == 2 and "history is missing" in result.stderr


def test_show_never_imports_torch(tmp_path: Path) -> None:
    path = str(_saved(tmp_path, _result()))
    assert _modules_after(["show", path, "--no-plot"]) == ({"numpy"}, 0)
    heavy, code = _modules_after(["show", path, "--out-dir", str(tmp_path / "png")])
    assert code == 0 and "torch" not in heavy and "matplotlib" in heavy


# Hand-edited and other versions' reports: every key show and compare read is checked -----


def _full_report() -> dict[str, Any]:
    """A report with every key show and compare read: 2 repeats, 2 param groups, a stack."""
    from lrfind.core.refinement import Probe, Refinement
    from lrfind.core.result import combine
    from lrfind.core.training import Group, Training

    training = Training(
        "AdamW", "build", {"betas": [0.9, 0.999]}, (Group(1.0, 4, 0.01), Group(10.0, 2, 0.0, 0.5)),
        clip_grad=1.0, accumulate=2, amp="bf16", stack="LightningModule",
        took=("configure_optimizers",), set_aside=("lr_scheduler_configs",), notes=["a note"],
    )  # fmt: skip
    lrs = list(np.geomspace(1e-6, 1.0, 61))
    runs = []
    for seed in (0, 1):
        losses = [1.0 + (math.log10(lr) + 2 + seed / 10) ** 2 / 4 for lr in lrs]
        history = History(lrs=lrs, losses=losses, smoothed=losses, stop_reason="diverged",
                          skipped=1, optimizer="AdamW", training=training)  # fmt: skip
        runs.append(analyse(history, SweepConfig(seed=seed)))
    refined = Refinement(0.01, 0.0316, [Probe(0.01, 1.0, 1.1, 60), Probe(0.0316, 0.9, 1.0, 60)])
    result = dataclasses.replace(combine(runs, SweepConfig(repeats=2)), refinement=refined)
    report = report_dict(result, total_s=1.0)
    report["warnings"] = ["a warning"]
    report["no_suggestion_reasons"] = {"valley": "a reason"}
    report["error"] = None
    return json.loads(json.dumps(report, allow_nan=False))


def _first(report: Any, key: str) -> tuple[str, Any, Any]:
    """The first place `key` (a schema path: "a.b[].c", "t.*") is in the report:
    (its path, the object or list that holds it, its key or index there)."""
    from lrfind.output.schema import _parts

    holder, where, at = None, "", None
    for part in _parts(key):
        holder = report if holder is None else holder[at]
        if part == "[]":
            at, where = 0, f"{where}[0]"
        else:
            at = next(iter(holder)) if part == "*" else part
            where = f"{where}.{at}" if where else at
        assert at in holder if isinstance(holder, dict) else holder, f"{key}: not in the report"
    return where, holder, at


WRONG_VALUES = ["x", 1.5, -1, True, None, [1], {"a": 1}]


def test_every_key_a_command_reads_is_checked_for_both_commands(tmp_path: Path) -> None:
    """Each schema key in turn gets a value of the wrong type: show and compare both exit 2
    with one line naming it (before: a crash, "failed unexpectedly", or even exit 0)."""
    from lrfind.output.schema import KEYS

    base = tmp_path / "base.json"
    base.write_text(json.dumps(_full_report()))
    assert runner.invoke(app, ["show", str(base), "--no-plot"]).exit_code == 0
    assert runner.invoke(app, ["compare", str(base), str(base)]).exit_code == 0
    for key, (check, _) in KEYS.items():
        report = _full_report()
        where, holder, at = _first(report, key)
        holder[at] = next(v for v in WRONG_VALUES if not check(v))
        path = tmp_path / "edited.json"
        path.write_text(json.dumps(report))
        for args in (["show", str(path), "--no-plot"], ["compare", str(base), str(path)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 2, (key, args[0], result.output)
            assert result.stderr.startswith(f"Error: {path}: '{where}' is "), (key, result.stderr)
            assert result.stdout == "" and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"config": {"start_lr": "1e-7"}}, "'config.start_lr' is a string ('1e-7'), expected a"),
        ({"config": {"steps": "100"}}, "'config.steps' is a string ('100'), expected an integer"),
        ({"training": {"optimizer": 3}}, "'training.optimizer' is an integer (3), expected a str"),
        ({"training": {"accumulate": math.inf}}, "'training.accumulate' is a number (inf)"),
        ({"skipped_steps": [1]}, "'skipped_steps' is a list, expected an integer >= 0"),
        ({"stop_reason": "weird"}, "'stop_reason' is a string ('weird'), expected one of comp"),
        ({"method": "best"}, "'method' is a string ('best'), expected one of robust, min_div_10"),
        ({"repeats": {"median_lr": ""}}, "'repeats.median_lr' is a string (''), expected a num"),
        ({"repeats": {"median_lr": None}}, "'repeats.median_lr' is null, expected a number: its"),
        ({"repeats": {"spread_decades": None}}, "'repeats.spread_decades' is null, expected a"),
        ({"repeats": {"shown": 2}}, "'repeats.shown' is 2, expected the index of one of its 2"),
        ({"config": {"divisor": 0.5}}, "config.divisor = 0.5: must be a finite number >= 1"),
    ],
)
def test_the_hunters_reports_exit_2_naming_the_key(
    tmp_path: Path, edit: dict[str, Any], message: str
) -> None:
    # Found by hand edits and a fuzz over every key path (issue hunt-40, finding 7).
    report = _full_report()
    for key, value in edit.items():
        if isinstance(value, dict):
            report[key].update(value)
        else:
            report[key] = value
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(report))  # inf: the Infinity literal a hand edit can hold
    base = tmp_path / "base.json"
    base.write_text(json.dumps(_full_report()))
    for args in (["show", str(path), "--no-plot"], ["compare", str(base), str(path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args[0], result.output)
        assert message in result.stderr, (args[0], result.stderr)


def test_a_repeats_curve_with_lists_of_different_lengths_exits_2(tmp_path: Path) -> None:
    report = _full_report()
    report["repeats"]["runs"][1]["history"]["loss"].pop()
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(report))
    result = runner.invoke(app, ["show", str(path), "--no-plot"])
    assert result.exit_code == 2 and "'repeats.runs[1].history' has lists of" in result.stderr


class _Tracked(dict):  # type: ignore[type-arg]
    """A report's object that notes every key read from it, as a schema path ("a.b[].c")."""

    def __init__(self, data: dict[str, Any], where: str, seen: set[str]) -> None:
        super().__init__(
            {k: _track(v, f"{where}.{k}" if where else k, seen) for k, v in data.items()}
        )
        self._where, self._seen = where, seen

    def _note(self, key: Any) -> None:
        self._seen.add(f"{self._where}.{key}" if self._where else str(key))

    def __getitem__(self, key: Any) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def items(self) -> Any:
        for key in self:
            self._note(key)
        return super().items()

    def values(self) -> Any:
        return [v for _, v in self.items()]


def _track(value: Any, where: str, seen: set[str]) -> Any:
    if isinstance(value, dict):
        return _Tracked(value, where, seen)
    if isinstance(value, list):
        return [_track(v, f"{where}[]", seen) for v in value]
    return value


# Read and checked by the reader itself (read_report, result_from_report), not the schema.
READER_CHECKS = {"schema_version", "suggested_lr", "history"} | {
    f"history.{k}" for k in ("lr", "loss", "smoothed_loss")
}


def test_the_schema_lists_every_key_show_and_compare_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key the commands read (noted as they read it) is one the schema checks: a key
    a later change starts to read, unchecked, fails here."""
    import lrfind.output.reader as reader
    from lrfind.config.settings import SweepConfig as Config
    from lrfind.output.schema import KEYS

    seen: set[str] = set()
    monkeypatch.setattr(reader, "parse_json", lambda text, *_: _track(json.loads(text), "", seen))
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_full_report()))
    assert runner.invoke(app, ["show", str(path), "--no-plot"]).exit_code == 0
    assert runner.invoke(app, ["compare", str(path), str(path)]).exit_code == 0
    patterns = [key.replace("[]", ".[]").split(".") for key in [*KEYS, *READER_CHECKS]]

    def checked(read: str) -> bool:
        parts = read.replace("[]", ".[]").split(".")
        return any(
            len(p) == len(parts) and all(a in ("*", b) for a, b in zip(p, parts, strict=True))
            for p in patterns
        )

    # The sweep's other settings are read only to be passed on whole to SweepConfig: one it
    # rejects (another version's) is left at its default, as show never reads it.
    others = {f"config.{f}" for f in Config.__dataclass_fields__}
    unchecked = sorted(read for read in seen if not checked(read) and read not in others)
    assert unchecked == [] and "training.param_groups[].lr_ratio" in seen


# compare's drift, shown as the verdict reads it (finding 9) -------------------------------


@pytest.mark.parametrize(
    ("new_lr", "tolerance", "shown"),
    [
        (0.02, 0.3, "+0.301"),  # log10(2) = 0.30103: "+0.30" read as within 0.3
        (0.01 * 10**0.00015, 0.0001, "+0.0002"),  # "+0.00" read as no drift at all
        (0.01 * 10**-0.0003, 0.3, "-0.0003"),  # within, but not the same LR
        (0.01, 0.0, "+0.00"),
        (0.0013, 0.3, "-0.89"),
        (1e-300, 0.3, "-298.00"),
    ],
)
def test_the_drift_shown_agrees_with_the_verdict(
    tmp_path: Path, new_lr: float, tolerance: float, shown: str
) -> None:
    base = _write(tmp_path, "b.json", suggested_lr=0.01)
    new = _write(tmp_path, "n.json", suggested_lr=new_lr)
    c = compare_files(base, new, tolerance)
    assert c.drift_shown == shown
    assert (abs(float(shown)) > tolerance) == (not c.ok)


def test_a_tolerance_of_minus_zero_is_zero(tmp_path: Path) -> None:
    base = _write(tmp_path, "b.json", suggested_lr=0.01)
    c = compare_files(base, base, -0.0)
    assert c.ok and math.copysign(1.0, c.tolerance) == 1.0


# show prints what run printed, also without a suggestion (finding 10) --------------------


@pytest.mark.parametrize(
    "spec", ["tiny.py:nan_loss", "faults/raises_step5.py:build"], ids=["nan", "failed"]
)
def test_show_without_a_suggestion_prints_what_run_printed(tmp_path: Path, spec: str) -> None:
    from .conftest import ASSETS

    ran = runner.invoke(app, ["run", str(ASSETS / spec), "--no-plot", "--out-dir", str(tmp_path)])
    assert ran.exit_code == 1, ran.output
    shown = runner.invoke(app, ["show", str(tmp_path / "report.json"), "--no-plot"])
    assert shown.exit_code == 1, shown.output
    assert shown.stdout == ran.stdout
    assert ("Swept: " in shown.stdout) == (spec == "tiny.py:nan_loss")

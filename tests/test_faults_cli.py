"""Issue 15's fault classes through the real CLI, in process (typer's CliRunner).

One test per mechanism, on the fault corpus in tests/assets/faults/. What needs
a real process (fd 1, signals, workers, torchrun) is in test_faults_process.py.
Every failure must be one or two lines starting "Error:", with the right exit
code, no traceback and nothing on stdout but the result.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

from .conftest import ASSETS, TINY

FAULTS = ASSETS / "faults"
REPORTS = FAULTS / "reports"
runner = CliRunner()


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    # The user's code must never end lrfind: every way out is a plain exit code.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output, result.output
    return result


def run(spec: str, tmp_path: Path, *extra: str) -> object:
    steps = [] if "--steps" in extra else ["--steps", "20"]
    return invoke("run", spec, *steps, "--no-plot", "--out-dir", str(tmp_path / "out"), *extra)


def error_lines(result: object) -> list[str]:
    """lrfind's own stderr lines: the user's ([user]) and warnings left out."""
    lines = [x for x in result.stderr.splitlines() if x.strip() and "[user]" not in x]
    return [x for x in lines if not x.startswith(("Warning:", "Wrote "))]


def assert_error(result: object, code: int, *says: str) -> str:
    assert result.exit_code == code, result.output
    lines = error_lines(result)
    assert 1 <= len(lines) <= 2 and lines[0].startswith("Error: "), lines
    for text in says:
        assert text in lines[0], lines[0]
    return lines[0]


# (a) stdout carries the result only --------------------------------------------------


@pytest.mark.parametrize("fault", ["print_import.py", "print_build.py", "print_forward.py"])
def test_the_users_prints_go_to_stderr_and_json_stays_json(fault: str, tmp_path: Path) -> None:
    result = run(f"{FAULTS}/{fault}:build", tmp_path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["suggested_lr"] > 0
    assert "[user]" in result.stderr and "[user]" not in result.stdout


def test_quiet_prints_one_number_whatever_the_model_prints(tmp_path: Path) -> None:
    result = run(f"{FAULTS}/print_forward.py:build", tmp_path, "-q")
    assert result.exit_code == 0, result.output
    assert float(result.stdout) > 0 and len(result.stdout.splitlines()) == 1


# (b) the user's code cannot end lrfind ----------------------------------------------


@pytest.mark.parametrize(
    ("fault", "args", "says"),
    [
        ("exit_build.py", [], "build() in"),
        ("exit_build.py", ["--arg", "code=3"], "exited with code 3"),
        ("exit_build.py", ["--arg", "message=dataset-missing"], "exited: dataset-missing"),
        ("exit_import0.py", [], "exit_import0.py exited with code 0"),
        ("base_exception_build.py", [], "raised Cancelled: the data pipeline was cancelled"),
    ],
)
def test_systemexit_and_base_exceptions_are_errors(
    fault: str, args: list[str], says: str, tmp_path: Path
) -> None:
    result = run(f"{FAULTS}/{fault}:build", tmp_path, "--json", *args)
    assert_error(result, 2, says)
    assert result.stdout == "" and not (tmp_path / "out" / "report.json").exists()


def test_argparse_at_import_takes_its_defaults(tmp_path: Path) -> None:
    assert run(f"{FAULTS}/argparse_import.py:build", tmp_path).exit_code == 0


def test_argparse_that_cannot_parse_says_where_to_parse(tmp_path: Path) -> None:
    result = run(f"{FAULTS}/argparse_required.py:build", tmp_path)
    line = assert_error(result, 2, "required: --data", 'if __name__ == "__main__":')
    assert "usage:" not in result.stderr, line  # argparse's usage block is held back


def test_systemexit_mid_sweep_keeps_the_partial_report(tmp_path: Path) -> None:
    result = run(f"{FAULTS}/exit_forward.py:build", tmp_path)
    assert_error(result, 1, "step 5/20", "sys.exit(0)", "exit_forward.py, line")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps_run"] == 4 and report["stop_reason"] == "error"


def test_an_exception_that_cannot_be_printed_still_keeps_the_partial_report(
    tmp_path: Path,
) -> None:
    result = run(f"{FAULTS}/odd_errors.py:build", tmp_path)
    assert_error(result, 1, "step 5/20", "Unprintable: <its str() raised RuntimeError>")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps_run"] == 4 and report["stop_reason"] == "error"


@pytest.mark.parametrize(("kind", "length"), [("long", 5000), ("lines", 1689)])
def test_a_long_message_is_cut_to_one_short_line(kind: str, length: int, tmp_path: Path) -> None:
    result = run(f"{FAULTS}/odd_errors.py:build", tmp_path, "--arg", f"kind={kind}")
    line = assert_error(result, 1, f"... ({length - 300:,} more characters; --debug shows all)")
    assert len(line) < 450, line


def test_sys_exit_with_an_unprintable_object_is_one_line(tmp_path: Path) -> None:
    result = run(f"{FAULTS}/odd_errors.py:build_exit", tmp_path)
    assert_error(result, 2, "exited: <its str() raised RuntimeError>", "odd_errors.py, line")


@pytest.mark.parametrize(
    "command", [["run", f"{TINY}:build"], ["schedule", "onecycle", "--lr", "1"]]
)
def test_an_empty_out_dir_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    assert_error(invoke(*command, "--out-dir", " "), 2, "--out-dir", "the folder name is empty")


def test_a_run_without_a_plot_leaves_no_earlier_plot_beside_its_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("run", f"{TINY}:build", "--steps", "20", "--out-dir", str(out)).exit_code == 0
    assert (out / "lr_finder.png").is_file()
    assert run(f"{TINY}:build", tmp_path).exit_code == 0  # --no-plot, the same folder
    assert (out / "report.json").is_file() and not (out / "lr_finder.png").exists()


def test_a_run_that_writes_nothing_leaves_no_empty_folder(tmp_path: Path) -> None:
    assert_error(run(f"{TINY}:no_such_function", tmp_path), 2, "no function 'no_such_function'")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()  # one the user made stays
    assert_error(run(f"{TINY}:no_such_function", tmp_path), 2)
    assert (tmp_path / "out").is_dir()


def test_a_keyboardinterrupt_the_code_raised_is_not_called_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec = f"{FAULTS}/odd_errors.py:build"
    result = invoke("run", spec, "--arg", "kind=interrupt", "--steps", "20", "--out-dir", str(out))
    assert result.exit_code == 130, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Interrupted by a KeyboardInterrupt after 4 of 20 steps"), last
    assert last.endswith(f"wrote {out / 'report.json'}, {out / 'lr_finder.png'}"), last
    assert result.stderr.lower().count("wrote") == 1
    # Too few points, because of the interrupt: rerunning is the fix, not a setting.
    assert "interrupted before that: rerun it and let it run" in last, last
    assert "--start-lr" not in last and "--steps" not in last, last
    args = ["--method", "min_div_10", "--no-plot"]
    result = invoke("run", spec, "--arg", "kind=interrupt", *args, "--out-dir", str(out))
    last = result.stderr.strip().splitlines()[-1]
    assert "only 2 finite points once the ends are set aside (needs 3): the sweep was " in last


# (c) set-up of the sweep: one error path -------------------------------------------


@pytest.mark.parametrize(
    ("fault", "args", "code", "says"),
    [
        ("meta_device.py", [], 2, "meta device"),
        ("to_raises.py", [], 1, "moving the model to cpu raised RuntimeError"),
        ("val_raises.py", ["--val-batches", "2"], 1, "FileNotFoundError: val/image_0.png"),
        ("iter_raises.py", [], 1, "ConnectionError"),
    ],
)
def test_set_up_failures_are_one_line(
    fault: str, args: list[str], code: int, says: str, tmp_path: Path
) -> None:
    assert_error(run(f"{FAULTS}/{fault}:build", tmp_path, *args), code, says)


# (d) known mistakes, named with their fixes ------------------------------------------


@pytest.mark.parametrize(
    ("spec", "args", "code", "says"),
    [
        ("loss_class.py:build", [], 2, "pass an instance, nn.MSELoss()"),
        ("loss_class_ce.py:build", [], 2, "nn.CrossEntropyLoss()"),
        ("step_fn_backward.py:build", [], 2, "calls backward() itself"),
        ("step_fn_signature.py:build", [], 2, "cannot be called as step_fn(model, batch)"),
        ("spec_instance.py:model", [], 2, "is a Linear (a model), not a function"),
        ("batchnorm.py:build", [], 1, "pass drop_last=True"),
        (
            "batchnorm.py:build",
            ["--arg", "batch_size=1"],
            1,
            "gives batches of 1 sample: use a batch_size of 2",
        ),
        ("weight_norm.py:build", [], 2, "parametrizations.weight_norm"),
        ("my-model.py:build", [], 2, "rename it"),
        ("lbfgs.py:build", [], 2, "LBFGS.step() needs a closure"),
        ("scripted.py:build", [], 2, "the model is a TorchScript module"),
        ("closure_loss.py:build", [], 2, "the loss used the model build() returned, not the copy"),
    ],
)
def test_known_mistakes_name_their_fix(
    spec: str, args: list[str], code: int, says: str, tmp_path: Path
) -> None:
    line = assert_error(run(f"{FAULTS}/{spec}", tmp_path, *args), code, says)
    assert "retain_graph" not in line  # torch's advice would double the gradients


def test_os_exit_in_the_users_code_is_handled_as_sys_exit(tmp_path: Path) -> None:
    # It ended lrfind at once, with code 0, no line and no report (a CI job read a pass).
    line = assert_error(run(f"{FAULTS}/os_exit_build.py:build", tmp_path), 2)
    assert line.endswith("os_exit_build.py called os._exit(3) (os_exit_build.py, line 7)")
    assert os._exit.__module__ in ("posix", "nt")  # put back once the command is over


def test_the_users_code_closing_or_replacing_the_streams_loses_nothing(tmp_path: Path) -> None:
    result = run(f"{FAULTS}/closes_streams.py:build", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("Suggested learning rate: ")
    assert "Wrote " in result.stderr  # lrfind's own lines: on the stderr it started with


def test_a_workers_error_is_its_own_line(tmp_path: Path) -> None:
    line = assert_error(run(f"{FAULTS}/worker_error.py:build", tmp_path), 1)
    assert "DataLoader worker" in line and "ValueError: sample 37: corrupt JPEG header" in line
    assert "worker_error.py, line" in line and "Original Traceback" not in line


# (e) too few steps for a suggestion --------------------------------------------------


def test_min_steps_is_what_the_suggestion_window_needs() -> None:
    from lrfind.config.settings import MIN_STEPS, MIN_WINDOW
    from lrfind.core.curve import END_TRIM, edges

    def window(n: int) -> int:
        lo, hi = edges(n)
        full = lo == min(n // 10, 10) and hi == n - END_TRIM  # both trims applied
        return hi - lo if full else 0

    assert window(MIN_STEPS) >= MIN_WINDOW > window(MIN_STEPS - 1)


@pytest.mark.parametrize("steps", ["2", "5"])
def test_too_few_steps_is_a_usage_error(steps: str, tmp_path: Path) -> None:
    result = run(f"{TINY}:build", tmp_path, "--steps", steps)
    assert_error(result, 2, f"--steps {steps}: too few for a suggestion", "at least 6")


def test_too_few_steps_in_a_config_and_in_find_lr(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[sweep]\nsteps = 4\n")
    result = invoke("run", f"{TINY}:build", "-c", str(config), "--out-dir", str(tmp_path))
    assert_error(result, 2, "steps = 4: too few")
    from lrfind import ConfigError, find_lr

    from .assets import tiny

    with pytest.raises(ConfigError, match="at least 6"):
        find_lr(*tiny.build(), steps=5)


# (g) paths resolved once; a failed write keeps the suggestion ------------------------


def test_tilde_and_chdir_cannot_move_the_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LRFIND_FAULT_CHDIR", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)  # chdir_build.py changes the cwd; this puts it back after
    (tmp_path / "home").mkdir()
    shutil.copy(FAULTS / "faultkit.py", tmp_path / "home" / "model.py")
    result = invoke("run", "~/model.py:build", "--steps", "20", "--no-plot", "--out-dir", "~/x")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "x" / "report.json").is_file() and not (tmp_path / "~").exists()
    result = invoke("run", f"{FAULTS}/chdir_build.py:build", "--steps", "20", "--no-plot",
                    "--out-dir", "out")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.json").is_file()


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_failed_write_still_prints_the_suggestion(
    code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lrfind.output.report

    def full(report: object, path: Path) -> Path:
        raise OSError(code, "simulated")

    monkeypatch.setattr(lrfind.output.report, "write_report", full)
    result = run(f"{TINY}:build", tmp_path)
    line = assert_error(result, 1, "cannot write", "report.json (simulated)")
    assert "free some space" in line if code == errno.ENOSPC else "ulimit -f" in line
    assert "Suggested learning rate:" in result.stdout


def test_a_failed_sweep_whose_partial_report_cannot_be_written_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk after a failed sweep: the curve is lost, and the user is told why (the
    "(the partial report is in ...)" line just went missing)."""
    import lrfind.output.report

    def full(report: object, path: Path) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lrfind.output.report, "write_report", full)
    result = run(f"{ASSETS}/bad.py:raises_mid_sweep", tmp_path)
    assert result.exit_code == 1, result.output
    last = error_lines(result)[-1]
    assert last.startswith("(no partial report: cannot write ") and "free some space" in last
    assert "report.json (No space left on device)" in last


def test_a_config_files_bad_out_dir_is_named_as_the_files(tmp_path: Path) -> None:
    """It was blamed on --out-dir, which the user never passed."""
    (tmp_path / "afile").write_text("x")
    config = tmp_path / "c.toml"
    config.write_text(f'[output]\nout_dir = "{tmp_path / "afile"}"\n')
    result = invoke("run", f"{TINY}:build", "--steps", "20", "--config", str(config))
    line = assert_error(result, 2, f"out_dir {tmp_path / 'afile'} is an existing file")
    assert line.endswith(f"(set by {config}: [output] out_dir = '{tmp_path / 'afile'}')")
    assert "--out-dir" not in line


def test_a_folder_in_the_way_of_the_report_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    assert_error(run(f"{TINY}:build", tmp_path), 2, "report.json is a folder")


# (i) show, compare, schedule, diagnose: every input checked --------------------------

BAD_REPORTS = {
    "suggestions_list.json": "'suggestions' is a list",
    "config_list.json": "'config' is a list",
    "reasons_list.json": "'no_suggestion_reasons' is a list",
    "environment_str.json": "'environment' is a string",
    "timing_str.json": "'timing.sweep_s' is a string ('0.2 s')",
    "warnings_int.json": "'warnings' is an integer",
    "history_list.json": "its history",
}


@pytest.mark.parametrize(("name", "says"), sorted(BAD_REPORTS.items()))
def test_show_names_the_bad_key(name: str, says: str) -> None:
    assert_error(invoke("show", str(REPORTS / name), "--no-plot"), 2, says)


def test_nested_json_is_one_line_everywhere(tmp_path: Path) -> None:
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    for args in (
        ["show", str(nested)],
        ["compare", str(REPORTS / "good.json"), str(nested)],
        ["schedule", "onecycle", "--from-report", str(nested), "--no-plot"],
        ["diagnose", str(nested), "--no-plot"],
    ):
        assert_error(invoke(*args), 2, "nested too deeply")


def test_show_renders_a_failed_sweep_with_its_error(tmp_path: Path) -> None:
    failed = run(f"{FAULTS}/raises_step1.py:build", tmp_path)
    assert failed.exit_code == 1
    result = invoke("show", str(tmp_path / "out" / "report.json"), "--no-plot")
    assert_error(result, 1, "failed", "expected 16 channels")


@pytest.mark.parametrize(
    "args",
    [
        ["onecycle", "--div-factor", "0"],
        ["onecycle", "--final-div-factor", "0"],
        ["steplr", "--step-size", "0"],
        ["steplr", "--step-size", "-3"],
        ["exponentiallr", "--gamma", "-1"],
        ["cyclic", "--step-size-up", "0"],
        ["onecycle", "--pct-start", "nan"],
    ],
)
def test_schedule_arguments_are_checked(args: list[str]) -> None:
    assert_error(invoke("schedule", *args, "--lr", "0.1", "--no-plot"), 2, f"{args[1]} ")


def test_output_folders_are_checked_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "d" / "diagnosis.png").mkdir(parents=True)
    good_log = str(FAULTS / "logs" / "good.csv")
    cases = [
        (["show", str(REPORTS / "good.json"), "--out-dir", str(tmp_path / "file.txt")], "file"),
        (["schedule", "onecycle", "--lr", "0.1", "--out-dir", str(tmp_path / "file.txt")], "file"),
        (["diagnose", good_log, "--out-dir", str(tmp_path / "d")], "diagnosis.png is a folder"),
    ]
    for args, says in cases:
        assert_error(invoke(*args), 2, says)


@pytest.mark.parametrize(("log", "args"), [("zeros.csv", []), ("seven.csv", ["--window", "0.5"])])
def test_diagnose_degenerate_logs(log: str, args: list[str]) -> None:
    result = invoke("diagnose", str(FAULTS / "logs" / log), "--no-plot", *args)
    assert result.exit_code == 0, result.output
    assert "Diagnosis:" in result.stdout


def test_an_unexpected_failure_is_one_line_unless_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    import lrfind.tools.compare

    def broken(*args: object) -> None:
        raise ZeroDivisionError("an input nothing checked")

    monkeypatch.setattr(lrfind.tools.compare, "compare_files", broken)
    good = str(REPORTS / "good.json")
    line = assert_error(invoke("compare", good, good), 1, "lrfind failed unexpectedly")
    assert "ZeroDivisionError: an input nothing checked" in line and "--debug" in line
    debug = runner.invoke(app, ["compare", good, good, "--debug"])
    assert isinstance(debug.exception, ZeroDivisionError)  # the traceback, as asked


# (x) environment and config ---------------------------------------------------------


def test_rank_left_in_the_environment_still_speaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "1")
    assert_error(run(f"{TINY}:biuld", tmp_path), 2, "no function 'biuld'")


def test_deeply_nested_arg_and_config(tmp_path: Path) -> None:
    deep = "[" * 20_000 + "]" * 20_000
    assert_error(run(f"{TINY}:build", tmp_path, "--arg", f"x={deep}"), 2, "nested too deeply")
    config = tmp_path / "deep.toml"
    config.write_text(f"[build]\nx = {deep}\n")
    assert_error(invoke("run", f"{TINY}:build", "-c", str(config)), 2, "nested too deeply")


def test_json_after_a_failed_sweep_is_the_partial_report(tmp_path: Path) -> None:
    # CI keeps `--json > lr.json`: a failed sweep must leave the partial report there, not "".
    result = run(f"{FAULTS}/exit_forward.py:build", tmp_path, "--json")
    assert_error(result, 1, "step 5/20")
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "out" / "report.json").read_text())
    assert printed["stop_reason"] == "error" and printed["steps_run"] == 4


@pytest.mark.parametrize(
    ("version", "says"),
    [
        (2, "schema_version 2 is not one this lrfind reads (1 to 1); a newer lrfind wrote it"),
        (0, "schema_version 0 is not one this lrfind reads (1 to 1); give the report.json"),
        (-3, "schema_version -3 is not one"),
    ],
)
def test_an_unknown_schema_version_is_refused_everywhere(
    tmp_path: Path, version: int, says: str
) -> None:
    report = json.loads((REPORTS / "good.json").read_text())
    path = tmp_path / "report.json"
    path.write_text(json.dumps({**report, "schema_version": version}))
    good = str(REPORTS / "good.json")
    for args in (
        ["show", str(path), "--no-plot"],
        ["compare", good, str(path)],
        ["schedule", "onecycle", "--from-report", str(path), "--no-plot"],
    ):
        assert_error(invoke(*args), 2, says)


# (h) losses the parameters cannot move -----------------------------------------------------


def test_a_loss_that_gives_the_parameters_no_gradient_stops_at_step_1(tmp_path: Path) -> None:
    result = run(f"{FAULTS / 'no_gradient.py'}:detached", tmp_path)
    assert_error(result, 2, "step 1/20: no parameter the optimizer holds got a gradient")


def test_a_constant_loss_says_so_and_still_shows_what_was_swept(tmp_path: Path) -> None:
    result = run(f"{FAULTS / 'no_gradient.py'}:constant", tmp_path)
    line = assert_error(result, 1, "the loss is 1 at every step, from lr 1e-07 to 10")
    assert "widen the range" not in line and "--start-lr" not in result.stderr
    # A failed sweep is when the user checks what was trained: the Swept line is there.
    assert "Swept: SGD(momentum=0.9)" in result.stdout


def test_control_characters_and_lone_surrogates_in_the_users_error_are_made_harmless() -> None:
    from lrfind.errors import shortened

    # "\x1b[2J" clears the terminal; "\udcff" (a byte that was no UTF-8) breaks strict JSON.
    assert shortened("bad \x1b[2Jvalue\x07 \udcff") == "bad ?[2Jvalue? \\udcff"
    json.loads(json.dumps({"error": shortened("\udcff")}, ensure_ascii=False).encode())

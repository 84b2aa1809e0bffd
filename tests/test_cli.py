"""The command line, through typer's CliRunner (in process) and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

from .conftest import TINY

runner = CliRunner()


def _run(*args: str, out: Path | None = None) -> object:
    extra = ["--out-dir", str(out)] if out is not None else []
    return runner.invoke(app, ["run", *args, *extra])


def test_success_writes_report_and_plot(tmp_path: Path) -> None:
    result = _run(f"{TINY}:build", "--steps", "60", out=tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    png = (tmp_path / "lr_finder.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert report["schema_version"] == 1 and report["suggested_lr"] > 0
    assert report["stop_reason"] == "diverged" and report["steps_run"] < 60
    assert "Suggested learning rate:" in result.stdout
    assert "◀ minimum" in result.stdout and "◀ suggested" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("Suggested learning rate:")
    assert f"{report['suggested_lr']:.3g}" in last


def test_report_schema(tmp_path: Path) -> None:
    _run(f"{TINY}:build", "--steps", "40", "--arg", "hidden=4", out=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    for key in [
        "suggested_lr",
        "method",
        "lr_at_min_loss",
        "min_smoothed_loss",
        "stopped_early",
        "stop_reason",
        "steps_run",
        "suggestions",
        "history",
        "config",
        "environment",
        "timing",
    ]:
        assert key in report, key
    assert set(report["suggestions"]) == {"robust", "min_div_10", "steepest", "valley"}
    assert report["method"] == "robust" and report["rule"]["stop"]["name"] == "robust"
    assert len(report["history"]["lr"]) == report["steps_run"] == len(report["history"]["loss"])
    assert report["config"]["spec"] == f"{TINY}:build"
    assert report["config"]["build_kwargs"] == {"hidden": 4}
    assert report["config"]["steps"] == 40 and report["config"]["seed"] == 0
    assert report["environment"]["device"] == "cpu"
    assert (
        report["timing"]["sweep_s"] > 0
        and report["timing"]["total_s"] >= report["timing"]["sweep_s"]
    )
    assert report["rule"]["robust"]["divisor"] == report["config"]["divisor"] == 5.0
    # The default ("bottom"): the left edge of the minimum's basin / 5, at or below the
    # minimum / 5, and what the rule gives on the recorded curve.
    from lrfind.core.robust_suggest import robust_answer

    h = report["history"]
    assert report["suggested_lr"] == robust_answer(h["lr"], h["loss"], report["stop_reason"]).lr
    assert h["lr"][0] <= report["suggested_lr"] <= report["lr_at_min_loss"] / 5


def test_json_stdout_is_pure_json(tmp_path: Path) -> None:
    result = _run(f"{TINY}:build", "--steps", "40", "--json", out=tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "report.json").read_text())


def test_quiet_prints_only_the_lr(tmp_path: Path) -> None:
    result = _run(f"{TINY}:build", "--steps", "40", "--quiet", out=tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert result.stdout.strip() == f"{report['suggested_lr']:.6g}"
    assert result.stderr == ""


def test_no_plot(tmp_path: Path) -> None:
    result = _run(f"{TINY}:build", "--steps", "20", "--no-plot", out=tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.json").exists() and not (tmp_path / "lr_finder.png").exists()


def test_unsuggestable_sweep_exits_1_and_keeps_the_report(tmp_path: Path) -> None:
    result = _run(f"{TINY}:nan_loss", out=tmp_path)
    assert result.exit_code == 1, result.output
    assert "Error: no learning rate can be suggested" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["suggested_lr"] is None and report["stop_reason"] == "nan"
    assert report["history"]["loss"] == [None]  # NaN is written as null


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model.py"], "needs a function"),
        ([f"{TINY}:nope"], "has no function 'nope'"),
        ([f"{TINY}:returns_five"], "returned a 5-tuple"),
        ([f"{TINY}:build", "--steps", "1"], "--steps 1: too few for a suggestion: use at least 6"),
        ([f"{TINY}:build", "--start-lr", "1", "--end-lr", "0.1"], "--end-lr 0.1: must be greater"),
        ([f"{TINY}:build", "--optimizer", "lion"], "--optimizer 'lion': unknown optimizer"),
        ([f"{TINY}:build", "--arg", "oops"], "--arg 'oops' is malformed"),
        ([f"{TINY}:build", "--config", "nope.toml"], "config file nope.toml does not exist"),
        ([f"{TINY}:build", "--device", "tpu"], "--device 'tpu': must be auto, cpu"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = _run(*args, out=tmp_path)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in result.output


def test_bad_config_lists_every_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[sweep]\nstepz = 10\nmode = 3\n")
    result = _run(f"{TINY}:build", "--config", str(config), out=tmp_path)
    assert result.exit_code == 2
    assert "2 problems" in result.stderr
    assert "'stepz'" in result.stderr and "mode = 3" in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _run(f"{TINY}:raises", "--debug", out=tmp_path)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "RuntimeError: dataset folder missing" in result.stderr


def test_config_file_and_precedence_in_the_report(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'spec = "{TINY}:build"\n[sweep]\nsteps = 30\nend_lr = 1.0\n[build]\nhidden = 5\n'
        f'[output]\nout_dir = "{tmp_path / "o"}"\nplot = false\n'
    )
    result = runner.invoke(
        app, ["run", "--config", str(config), "--steps", "25", "--arg", "hidden=6"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["config"]["steps"] == 25 and report["config"]["end_lr"] == 1.0
    assert report["config"]["build_kwargs"] == {"hidden": 6}
    assert not (tmp_path / "o" / "lr_finder.png").exists()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("lrfind ")


def _modules_after(args: list[str]) -> tuple[set[str], int]:
    """The heavy modules a fresh process has imported after `lrfind ARGS`, and its exit code."""
    code = (
        "import sys\nfrom lrfind.cli import app\nexit_code = 0\n"
        f"try:\n    app({args!r})\nexcept SystemExit as e:\n    exit_code = e.code\n"
        "heavy = [m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules]\n"
        "print(f'{exit_code} heavy:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    last = out.stdout.strip().splitlines()[-1]
    exit_code, _, heavy = last.partition(" heavy:")
    return set(filter(None, heavy.split(","))), int(exit_code)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["--version"]])
def test_help_and_version_do_not_import_heavy_modules(args: list[str]) -> None:
    assert _modules_after(args) == (set(), 0)


# Every usage error that needs none of the user's code: options, config, SPEC syntax and path.
@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["run", "--bogus"],
        ["run", "model.py"],
        ["run", "missing.py:build"],
        ["run", "tests/assets:build"],
        ["run", "m.py:build", "--steps", "1"],
        ["run", "m.py:build", "--optimizer", "lion"],
        ["run", "m.py:build", "--amp", "fp8"],
        ["run", "m.py:build", "--device", "tpu"],
        ["run", "m.py:build", "--config", "nope.toml"],
        ["run", "m.py:build", "--arg", "oops"],
    ],
)
def test_usage_errors_do_not_import_heavy_modules(args: list[str], tmp_path: Path) -> None:
    assert _modules_after([*args, "--out-dir", str(tmp_path / "out")]) == (set(), 2)


def test_python_dash_m_runs_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lrfind",
            "run",
            f"{TINY}:build",
            "--steps",
            "30",
            "--json",
            "--no-plot",
            "--out-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        # Warnings shown: the copy of stdout lrfind opens is closed, not left to warn at exit
        # (a ResourceWarning there, and a traceback where the user's code made warnings errors).
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["suggested_lr"] > 0
    assert "ResourceWarning" not in proc.stderr and "Traceback" not in proc.stderr


def test_missing_cuda_is_reported_before_build_runs(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    # `raises` would fail in build(); the device error must come first.
    result = _run(f"{TINY}:raises", "--device", "cuda", out=tmp_path)
    assert result.exit_code == 2
    assert "CUDA is not available" in result.stderr and "dataset folder" not in result.stderr


def test_core_never_imports_torchvision_or_sklearn() -> None:
    code = (
        "import sys\nfrom lrfind import find_lr\nsys.path.insert(0, 'tests/assets')\n"
        "import tiny\nfind_lr(*tiny.build(), steps=10)\n"
        "print([m for m in ('torchvision', 'sklearn') if m in sys.modules])"
    )
    root = Path(__file__).parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_plot_never_imports_matplotlib(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom lrfind.cli import app\n"
        f"try:\n    app(['run', {str(TINY) + ':build'!r}, '--steps', '20', '--no-plot', '-q',"
        f" '--out-dir', {str(tmp_path)!r}])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_json_and_quiet_together_are_a_usage_error(tiny_spec: str) -> None:
    result = runner.invoke(app, ["run", tiny_spec, "--json", "-q"])
    assert result.exit_code == 2 and "--json and --quiet: choose one" in result.stderr
    assert result.stdout == ""


def test_a_failed_run_leaves_none_of_the_folders_it_made(tmp_path: Path) -> None:
    """A new nested --out-dir a/b/c for a run that fails before it writes: a/b/c, a/b and
    a all go (only the innermost did), and a folder that was there stays."""
    result = runner.invoke(
        app, ["run", str(tmp_path / "nope.py:build"), "--out-dir", str(tmp_path / "a/b/c")]
    )
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []

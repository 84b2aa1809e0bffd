"""Determinism, provenance and what lrfind may touch on disk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

from .conftest import TINY

LRFIND = Path(__file__).parents[1] / "lrfind"


def _history(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", f"{TINY}:build", "--json", "--no-plot", "--out-dir", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_same_seed_gives_the_identical_history_on_cpu(tmp_path: Path) -> None:
    a = _history(tmp_path, "--seed", "5")
    b = _history(tmp_path, "--seed", "5")
    c = _history(tmp_path, "--seed", "6")
    assert a["history"] == b["history"]  # bitwise: the floats compare exactly
    assert a["history"]["loss"] != c["history"]["loss"]


def test_report_records_seed_versions_and_device(tmp_path: Path) -> None:
    import platform

    import torch

    report = _history(tmp_path, "--seed", "7")
    assert report["config"]["seed"] == 7
    env = report["environment"]
    assert env["torch"] == torch.__version__ and env["python"] == platform.python_version()
    assert env["lrfind"] and env["device"] == "cpu"


def test_files_land_only_in_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["run", f"{TINY}:build", "--out-dir", "results"])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    assert written == ["results", "results/lr_finder.png", "results/report.json"]


def test_lrfind_runs_and_unpickles_nothing_but_the_spec() -> None:
    """Only spec.py executes code (the user's build file); nothing is unpickled or eval'd."""
    forbidden = re.compile(
        r"\bpickle\b|torch\.load\(|(?<![.\w])eval\(|(?<![.\w])exec\(|os\.system|subprocess|__import__\("
    )
    for path in LRFIND.glob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            assert not forbidden.search(line), f"{path.name}:{n}: {line.strip()}"
    spec = (LRFIND / "spec.py").read_text()
    assert "exec_module" in spec and "import_module" in spec  # the one, documented, way in

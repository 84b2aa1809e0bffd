"""Issue 15's faults that need a real process: fd 1, signals, a slow disk, torchrun ranks.

Each runs `python -m lrfind` as a user would; the in-process ones are in
test_faults_cli.py. The sweeps are tiny (or slowed on purpose, for signals).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ASSETS

FAULTS = ASSETS / "faults"
GOOD = FAULTS / "reports" / "good.json"
LONG = ["--steps", "100000", "--end-lr", "1e-3", "--diverge-threshold", "1e9", "--no-plot"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _lrfind(*args: str) -> list[str]:
    return [sys.executable, "-m", "lrfind", *args]


def _wait(path: Path, proc: subprocess.Popen[str], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def test_nothing_the_users_code_writes_reaches_stdout(tmp_path: Path) -> None:
    """print at import, os.write(1) in forward, a child process, an atexit hook: all on stderr."""
    done = subprocess.run(
        _lrfind(
            "run",
            f"{ASSETS}/chatty.py:build",
            "--steps",
            "20",
            "--no-plot",
            "--json",
            "--out-dir",
            str(tmp_path),
        ),
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["suggested_lr"] > 0  # the whole of stdout is the report
    for said in ("imported", "from fd 1", "from a child", "at exit"):
        assert f"chatty: {said}" in done.stderr


def test_errors_python_prints_itself_are_one_line_each(tmp_path: Path) -> None:
    # A thread of the user's code, a __del__ and an atexit hook raising: Python prints each
    # traceback itself (lrfind never sees them); without --debug each is one line.
    args = ["run", f"{FAULTS}/python_prints.py:build", "--steps", "20", "--no-plot"]
    done = subprocess.run(
        _lrfind(*args, "--out-dir", str(tmp_path)), capture_output=True, text=True, env=_env()
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    lines = [x for x in done.stderr.splitlines() if "[user]" in x]
    assert lines == [
        "Warning: a thread of your code (prefetch) raised ValueError: [user] in a thread "
        "(python_prints.py, line 17); --debug shows the traceback",
        "Warning: ignored (as Python does), in Leaky.__del__(): ValueError: [user] in __del__ "
        "(python_prints.py, line 13); --debug shows the traceback",
        "Warning: ignored (as Python does), in atexit callback: ValueError: [user] at exit "
        "(python_prints.py, line 21); --debug shows the traceback",
    ], done.stderr
    debug = subprocess.run(
        _lrfind(*args, "--out-dir", str(tmp_path), "--debug"),
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert debug.stderr.count("Traceback") >= 2  # --debug: Python's own, untouched


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds workers in /proc")
def test_workers_dying_after_the_sweep_cost_neither_report_nor_plot(tmp_path: Path) -> None:
    args = ["run", f"{FAULTS}/workers_killed_after.py:build", "--steps", "12"]
    args += ["--end-lr", "1e-3", "--diverge-threshold", "1e9", "--out-dir", str(tmp_path)]
    done = subprocess.run(_lrfind(*args), capture_output=True, text=True, env=_env())
    # 12 low steps hold no suggestion (exit 1): the point is what was written.
    assert done.returncode in (0, 1) and "RuntimeError" not in done.stderr, done.stderr
    assert "no plot" not in done.stderr and "unexpectedly" not in done.stderr, done.stderr
    assert (tmp_path / "lr_finder.png").read_bytes().startswith(b"\x89PNG")
    assert json.loads((tmp_path / "report.json").read_text())["steps_run"] == 12


def test_sigterm_stops_at_a_step_and_a_second_one_waits_for_the_write(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = _env(
        LRFIND_FAULT_MARKER=str(tmp_path / "sweeping"),
        PYTHONPATH=f"{FAULTS / 'slowfs'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        LRFIND_FAULT_SLOW_DIR=str(out),  # fsync of the report takes 2 s: the second signal
        LRFIND_FAULT_SLOW_S="2",  # lands inside the write
    )
    proc = subprocess.Popen(
        _lrfind("run", f"{FAULTS}/slow.py:build", *LONG, "--out-dir", str(out)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    _wait(tmp_path / "sweeping", proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)  # as kill, timeout(1), CI runners and Kubernetes send it
    _wait(tmp_path / "fsync-started", proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "nothing was written" not in stderr
    assert "Interrupted by SIGTERM after" in stderr
    report = json.loads((out / "report.json").read_text())  # whole, although signalled twice
    assert report["stop_reason"] == "interrupted" and report["steps_run"] > 0
    # The partial result is shown; a few steps at the start LR are no usable curve, so no
    # suggestion is printed (never one with exit 0 from a curve that cannot hold it).
    assert "LR range test (" in stdout and "Suggested learning rate" not in stdout
    assert "; no suggestion (no usable curve" in stderr, stderr


def test_sighup_in_build_says_nothing_was_written(tmp_path: Path) -> None:
    marker = tmp_path / "sweeping"
    proc = subprocess.Popen(
        _lrfind(
            "run",
            f"{FAULTS}/slow.py:build",
            "--arg",
            "build_sleep=60",
            "--steps",
            "20",
            "--no-plot",
            "--out-dir",
            str(tmp_path / "out"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(LRFIND_FAULT_MARKER=str(marker)),
    )
    _wait(Path(f"{marker}.build"), proc)
    proc.send_signal(signal.SIGHUP)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 129, stderr
    assert stderr.strip() == "Interrupted by SIGHUP before the sweep started: nothing was written."
    assert not (tmp_path / "out" / "report.json").exists()


def test_stdout_on_a_full_disk_and_a_reader_gone() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            _lrfind("show", str(GOOD), "--no-plot"),
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("Error: cannot write the results to stdout (No space")
    proc = subprocess.Popen(
        _lrfind("show", str(GOOD), "--no-plot"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()  # type: ignore[union-attr]  # `| head -0`: the reader has gone
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert proc.wait(timeout=60) == 1 and stderr == ""  # as click does: silent


def test_an_invalid_mplbackend_costs_nothing(tmp_path: Path) -> None:
    done = subprocess.run(
        _lrfind("diagnose", str(FAULTS / "logs" / "good.csv"), "--out-dir", str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(MPLBACKEND="nonsense"),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "diagnosis.png").read_bytes().startswith(b"\x89PNG")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_rank_stuck_in_build_ends_every_rank_in_lrfinds_words(tmp_path: Path) -> None:
    port, procs = str(_free_port()), []
    args = [
        "run",
        f"{FAULTS}/ranks_fault.py:build",
        "--device",
        "cpu",
        "--dist-timeout",
        "5",
        "--steps",
        "20",
        "--no-plot",
        "--out-dir",
        str(tmp_path),
    ]
    for rank in (0, 1):
        env = _env(
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE="2",
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
        )
        procs.append(
            subprocess.Popen(
                _lrfind(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
    done = [(p.communicate(timeout=120)[1], p.returncode) for p in procs]
    done = [(code, err) for err, code in done]
    assert done[0][0] == 1 and done[1][0] != 0, done
    assert "Traceback" not in done[0][1]
    lines = [x for x in done[0][1].splitlines() if x.startswith("Error:")]
    assert lines == [
        "Error: rank 0: waited --dist-timeout 5 s for rank 1 to finish build(): stuck, or "
        "slower than that (then raise --dist-timeout)"
    ]

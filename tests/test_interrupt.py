"""Ctrl-C: a real SIGINT ends the sweep at a step boundary, keeps the results, exits 130."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lrfind import find_lr

from .assets import tiny
from .conftest import ASSETS


def _started_sweep(
    tmp_path: Path, build: str, *options: str, new_session: bool = False
) -> tuple[subprocess.Popen[str], Path]:
    """`lrfind run` of a long sweep in a subprocess, once its first step ran; its --out-dir.

    `new_session`: its own process group, as a shell job has.
    """
    marker, out = tmp_path / "sweep-started", tmp_path / "out"
    args = ["--steps", "100000", "--end-lr", "1e-3", "--diverge-threshold", "1e9", *options]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lrfind",
            "run",
            f"{ASSETS}/bad.py:{build}",
            *args,
            "--out-dir",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LRFIND_TEST_MARKER": str(marker)},
        start_new_session=new_session,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate(timeout=10)
    return proc, out


def test_sigint_to_a_running_sweep(tmp_path: Path) -> None:
    proc, out = _started_sweep(tmp_path, "slow")
    time.sleep(0.5)  # a few steps of 20 ms each
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    report = json.loads((out / "report.json").read_text())
    assert report["stop_reason"] == "interrupted" and report["stopped_early"]
    assert 5 <= report["steps_run"] < 100000
    assert len(report["history"]["loss"]) == report["steps_run"]
    assert any("interrupted after" in w for w in report["warnings"])
    assert (out / "lr_finder.png").read_bytes().startswith(b"\x89PNG")
    # The partial result is shown; a few steps at the start LR are no usable curve, so no
    # suggestion is printed (never one with exit 0 from a curve that cannot hold it).
    assert "LR range test (" in stdout and "Suggested learning rate" not in stdout
    assert "; no suggestion (no usable curve" in stderr, stderr


def test_a_signal_to_the_process_group_with_dataloader_workers_is_an_interrupt(
    tmp_path: Path,
) -> None:
    # `timeout`, a job controller or a terminal's Ctrl-C signal every process in the group:
    # the DataLoader's workers die of it (torch's SIGTERM handler in a worker), and the sweep
    # sees "worker exited unexpectedly". That is the interruption, not a failed sweep.
    proc, out = _started_sweep(
        tmp_path,
        "slow_workers",
        "--no-plot",
        new_session=True,
    )
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Interrupted by SIGTERM after" in stderr and "failed" not in stderr, stderr
    assert json.loads((out / "report.json").read_text())["stop_reason"] == "interrupted"


class SelfInterrupting(nn.Module):
    """Sends SIGINT to its own process on its 6th forward: Ctrl-C in mid-sweep."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 6:
            signal.raise_signal(signal.SIGINT)
        return self.net(x)


def test_interruption_leaves_the_users_world_untouched() -> None:
    model = SelfInterrupting().eval()
    _, loader, loss = tiny.build()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    model(torch.randn(16, 4)).sum().backward()
    optimizer.step()  # give the user's optimizer some state of its own
    model.calls = 0
    state = {k: v.clone() for k, v in model.state_dict().items()}
    opt_state = {k: v.clone() for k, v in optimizer.state_dict()["state"][0].items()}
    handler = signal.getsignal(signal.SIGINT)
    torch.manual_seed(11)
    random.seed(12)
    np.random.seed(13)
    rng = (torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy())

    result = find_lr(model, loader, loss, optimizer=optimizer, steps=50)

    assert result.stop_reason == "interrupted" and result.steps_run == 6
    assert model.calls == 0 and not model.training
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert all(torch.equal(optimizer.state_dict()["state"][0][k], v) for k, v in opt_state.items())
    assert optimizer.param_groups[0]["lr"] == 3e-4
    assert torch.equal(torch.get_rng_state(), rng[0])
    assert random.getstate() == rng[1] and np.array_equal(np.random.get_state()[1], rng[2])
    assert signal.getsignal(signal.SIGINT) is handler  # our handler is gone again

"""`lrfind run` without the terminal: settings in, files out, result back.

The order matters to users: everything that can be checked without running
their code (settings, output folder, device) is checked before build() runs.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrfind.errors import LrfindError, SweepError, UsageError
from lrfind.resolve import RunConfig
from lrfind.spec import check_spec

if TYPE_CHECKING:  # these import torch; a run imports them once its settings are checked
    from lrfind.distributed import Cluster
    from lrfind.result import SweepResult
    from lrfind.sweep import Progress

REPORT_NAME = "report.json"
PLOT_NAME = "lr_finder.png"


@dataclass(frozen=True)
class RunOutcome:
    """A finished `lrfind run`: the result, the report and where files went."""

    result: SweepResult
    report: dict[str, Any]
    report_path: Path
    plot_path: Path | None
    #: This process's rank under torchrun (only rank 0 prints); 0 otherwise.
    rank: int = 0
    #: The torchrun job (world size, backend, batch sizes); None for one process.
    distributed: dict[str, Any] | None = None


def execute(
    cfg: RunConfig, progress: Progress | None = None, started: float | None = None
) -> RunOutcome:
    """Build the SPEC, sweep, write report.json (and the plot); return the outcome.

    When the sweep fails part-way, the partial report and plot are still
    written before the error is raised again (`error.outcome` holds them).
    Under torchrun (cfg.distributed) every rank runs this; only rank 0 writes.
    """
    started = time.perf_counter() if started is None else started
    if not cfg.distributed:
        return _execute(cfg, progress, started, None)
    from lrfind.distributed import join

    with join(cfg.sweep.device, cfg.dist_timeout) as cluster:  # one rank fails: all stop
        return _execute(cfg, progress, started, cluster)


def _execute(
    cfg: RunConfig, progress: Progress | None, started: float, cluster: Cluster | None
) -> RunOutcome:
    rank = 0 if cluster is None else cluster.rank
    if rank == 0:
        prepare_out_dir(cfg.out_dir)
    check_spec(cfg.spec)  # a mistyped SPEC is reported before torch loads
    from lrfind.api import find_lr
    from lrfind.device import describe, resolve_device
    from lrfind.result import analyse
    from lrfind.spec import call_build, load_function
    from lrfind.task import task_from_build

    device = resolve_device(cfg.sweep.device) if cluster is None else cluster.device
    _seed_process(cfg.sweep.seed)  # so that build()'s weight init is reproducible too
    build_start = time.perf_counter()
    func, label = load_function(cfg.spec)
    task = task_from_build(call_build(func, label, cfg.build_kwargs), label)
    build_s = time.perf_counter() - build_start
    error: LrfindError | None = None
    try:
        if cluster is None:
            result = find_lr(task, config=cfg.sweep, progress=progress)
        else:
            result = cluster.find_lr(task, cfg.sweep, progress)
    except LrfindError as e:
        history = getattr(e, "history", None)
        if history is None:
            raise
        error = e
        result = analyse(history, cfg.sweep, device=describe(device))
    if rank != 0:  # rank 0 writes and prints for every rank
        if error is not None:
            raise error
        return RunOutcome(result, {}, cfg.out_dir / REPORT_NAME, None, rank=rank)
    outcome = _write(cfg, result, time.perf_counter() - started, build_s, error, cluster)
    if error is not None:
        error.outcome = outcome  # type: ignore[attr-defined]
        raise error
    return outcome


def prepare_out_dir(out_dir: Path) -> None:
    """Create the output folder, or explain why it cannot be used."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} is an existing file: pass a folder path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except ValueError as e:  # e.g. an embedded NUL byte from a config file
        raise UsageError(f"--out-dir {str(out_dir)!r} is not a valid path ({e})") from None
    except OSError as e:
        raise UsageError(
            f"--out-dir {out_dir} cannot be created ({e.strerror}): pass another folder"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"--out-dir {out_dir} is not writable: pass another folder")


def _write(
    cfg: RunConfig,
    result: SweepResult,
    total_s: float,
    build_s: float,
    error: LrfindError | None,
    cluster: Cluster | None = None,
) -> RunOutcome:
    from lrfind.report import report_dict, write_report

    report = report_dict(
        result,
        settings=cfg.to_dict(),
        total_s=total_s,
        build_s=build_s,
        error=None if error is None else str(error),
    )
    distributed = None if cluster is None else cluster.summary()
    report["distributed"] = distributed  # null for one process
    try:
        report_path = write_report(report, cfg.out_dir / REPORT_NAME)
        plot_path = None
        if cfg.plot and result.steps_run > 0:
            from lrfind.plot import save_plot

            plot_path = save_plot(result, cfg.out_dir / PLOT_NAME)
    except OSError as e:
        raise SweepError(
            f"cannot write to {cfg.out_dir} ({e.strerror or e}): free some space or pass "
            "another --out-dir"
        ) from e
    return RunOutcome(result, report, report_path, plot_path, distributed=distributed)


def _seed_process(seed: int) -> None:
    import numpy as np
    import torch

    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)

"""`lrfind run` without the terminal: settings in, files out, result back.

The order matters to users: everything that can be checked without running
their code (settings, output folder, SPEC) is checked before torch loads and
build() runs. The device is resolved here, once, and handed down.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrfind.config.resolve import RunConfig
from lrfind.errors import LrfindError, SweepError, UsageError
from lrfind.spec import call_build, check_spec, load_function

if TYPE_CHECKING:  # annotations only: these load numpy and torch, after the SPEC is checked
    import torch

    from lrfind.core.result import SweepResult
    from lrfind.distributed.cluster import Cluster
    from lrfind.sweep.loop import Progress

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
    written before the error is raised again (`error.report_path` says where).
    Under torchrun (cfg.distributed) every rank runs this; only rank 0 writes.
    """
    started = time.perf_counter() if started is None else started
    if cfg.torchrun.speaks or not cfg.distributed:
        prepare_out_dir(cfg.out_dir)
    check_spec(cfg.spec)  # a mistyped SPEC is reported before torch loads
    if not cfg.distributed:
        from lrfind.sweep.device import resolve_device

        return _execute(cfg, progress, started, resolve_device(cfg.sweep.device), None)
    from lrfind.distributed.cluster import join

    cluster = join(cfg.sweep.device, cfg.dist_timeout, cfg.torchrun)
    with cluster:  # one rank fails: all stop
        return _execute(cfg, progress, started, cluster.device, cluster)


def _execute(
    cfg: RunConfig,
    progress: Progress | None,
    started: float,
    device: torch.device,
    cluster: Cluster | None,
) -> RunOutcome:
    from lrfind.core.result import analyse
    from lrfind.sweep.adapters.base import with_stack_settings
    from lrfind.sweep.device import describe
    from lrfind.sweep.guards import seeded
    from lrfind.sweep.range_test import sweep_task
    from lrfind.sweep.task import task_from_build

    build_start = time.perf_counter()
    with seeded(cfg.sweep.seed, device):  # build()'s weight init is reproducible too
        func, label = load_function(cfg.spec)
        task = task_from_build(call_build(func, label, cfg.build_kwargs), label)
    build_s = time.perf_counter() - build_start
    # A Trainer's or Lightning's clipping, accumulation and precision, where no setting was given.
    sweep, task = with_stack_settings(cfg.sweep, task, cfg.explicit)
    cfg = dataclasses.replace(cfg, sweep=sweep)
    error: LrfindError | None = None
    try:
        if cluster is None:
            result = sweep_task(task, cfg.sweep, device, progress)
        else:
            result = cluster.find_lr(task, cfg.sweep, progress)
    except LrfindError as e:
        if e.history is None:
            raise
        error = e
        result = analyse(e.history, cfg.sweep, device=describe(device))
    rank = 0 if cluster is None else cluster.rank
    if rank != 0:  # rank 0 writes and prints for every rank
        if error is not None:
            raise error
        return RunOutcome(result, {}, cfg.out_dir / REPORT_NAME, None, rank=rank)
    summary = None if cluster is None else cluster.summary()
    outcome = _write(cfg, result, time.perf_counter() - started, build_s, error, summary)
    if error is not None:
        error.report_path = outcome.report_path
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
    distributed: dict[str, Any] | None,
) -> RunOutcome:
    from lrfind.output.report import report_dict, write_report

    report = report_dict(
        result,
        settings=cfg.to_dict(),
        total_s=total_s,
        build_s=build_s,
        error=None if error is None else str(error),
    )
    report["distributed"] = distributed  # null for one process
    try:
        report_path = write_report(report, cfg.out_dir / REPORT_NAME)
        plot_path = None
        if cfg.plot and result.steps_run > 0:
            from lrfind.output.plot import save_plot

            plot_path = save_plot(result, cfg.out_dir / PLOT_NAME)
    except OSError as e:
        raise SweepError(
            f"cannot write to {cfg.out_dir} ({e.strerror or e}): free some space or pass "
            "another --out-dir"
        ) from e
    return RunOutcome(result, report, report_path, plot_path, distributed=distributed)

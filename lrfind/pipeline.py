"""`lrfind run` without the terminal: settings in, files out, result back.

The order matters to users: everything that can be checked without running
their code (settings, output folder, SPEC) is checked before torch loads and
build() runs. The device is resolved here, once, and handed down.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrfind.config.resolve import RunConfig
from lrfind.errors import LrfindError, SweepError, about, describe_exception
from lrfind.output.paths import cannot_write, exists, prepare_dir
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
    #: The outputs could not be written (a full disk): the result stands, the run fails.
    write_error: LrfindError | None = None
    #: Why there is no plot although one was asked for (it is best-effort).
    plot_warning: str | None = None


def execute(
    cfg: RunConfig, progress: Progress | None = None, started: float | None = None
) -> RunOutcome:
    """Build the SPEC, sweep, write report.json (and the plot); return the outcome.

    When the sweep fails part-way, the partial report and plot are still
    written before the error is raised again (`error.report_path` says where).
    Under torchrun (cfg.distributed) every rank runs this; only rank 0 writes.
    An error about a setting the config file made names the file's line. A
    run that fails before it writes anything leaves no empty folder behind.
    """
    writes = cfg.torchrun.speaks or not cfg.distributed  # the one process that writes
    created = _missing(cfg.out_dir) if writes else []
    try:
        return _start(cfg, progress, time.perf_counter() if started is None else started)
    except LrfindError as e:
        origin = cfg.origins.get(e.setting or "")
        if origin is not None:
            e.set_by(origin)
        raise
    finally:
        for folder in created:  # innermost first: a/b/c, then a/b, then a
            _remove_if_empty(folder)


def _remove_stale(path: Path) -> None:
    with contextlib.suppress(OSError):  # not ours to force: the report is whole either way
        path.unlink(missing_ok=True)


def _missing(folder: Path) -> list[Path]:
    """`folder` and those of its parents that do not exist yet (the ones the run makes)."""
    missing = []
    for path in (folder, *folder.parents):
        if exists(path):
            break
        missing.append(path)
    return missing


def _remove_if_empty(folder: Path) -> None:
    # ValueError: a path the OS cannot name (a NUL byte) was never made
    with contextlib.suppress(OSError, ValueError):
        folder.rmdir()  # only an empty folder goes: one holding a report stays


def _start(cfg: RunConfig, progress: Progress | None, started: float) -> RunOutcome:
    if cfg.torchrun.speaks or not cfg.distributed:  # as in execute
        option = "out_dir" if "out_dir" in cfg.origins else "--out-dir"  # a config file's
        with about("out_dir"):
            prepare_out_dir(cfg.out_dir, option)
    with about("spec"):
        check_spec(cfg.spec)  # a mistyped SPEC is reported before torch loads
    if not cfg.distributed:
        from lrfind.sweep.device import resolve_device

        with about("device"):
            device = resolve_device(cfg.sweep.device)
        return _execute(cfg, progress, started, device, None)
    from lrfind.distributed.cluster import join

    cluster = join(cfg.sweep.device, cfg.dist_timeout, cfg.torchrun, cfg.debug)
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
        with about("spec"):
            func, label = load_function(cfg.spec)
        task = task_from_build(call_build(func, label, cfg.build_kwargs), label)
    build_s = time.perf_counter() - build_start
    # A Trainer's or Lightning's clipping, accumulation and precision, where no setting was given.
    sweep, task = with_stack_settings(cfg.sweep, task, cfg.explicit)
    cfg = dataclasses.replace(cfg, sweep=sweep)
    if cluster is not None:  # a rank stuck in build() ends every rank, in lrfind's words
        cluster.built()
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
        result = e.finished  # --repeats: those that finished before it failed
        if result is None:
            result = analyse(e.history, cfg.sweep, device=describe(device))
    _ignore_worker_deaths()
    rank = 0 if cluster is None else cluster.rank
    if rank != 0:  # rank 0 writes and prints for every rank
        if error is not None:
            raise error
        return RunOutcome(result, {}, cfg.out_dir / REPORT_NAME, None, rank=rank)
    summary = None if cluster is None else cluster.summary()
    outcome = _write(cfg, result, time.perf_counter() - started, build_s, error, summary)
    if error is not None:
        # Where the partial report is: only when it was written.
        error.report_path = outcome.report_path if outcome.write_error is None else None
        error.report_lost = None if outcome.write_error is None else str(outcome.write_error)
        error.report = outcome.report
        raise error
    return outcome


def _ignore_worker_deaths() -> None:
    """No loader is read after the sweep. torch's SIGCHLD handler raises a RuntimeError in
    the main thread, at whatever line it is on, when a DataLoader worker dies; persistent
    workers live on, and a signal to the process group (Ctrl-C, timeout) kills them while
    the report and plot are written: that must not cost them."""
    if hasattr(signal, "SIGCHLD") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def prepare_out_dir(out_dir: Path, option: str = "--out-dir") -> None:
    """Create the output folder, or explain why it cannot be used (before anything runs)."""
    prepare_dir(out_dir, (REPORT_NAME, PLOT_NAME), option)


def _write(
    cfg: RunConfig,
    result: SweepResult,
    total_s: float,
    build_s: float,
    error: LrfindError | None,
    distributed: dict[str, Any] | None,
) -> RunOutcome:
    """Write report.json, then the plot; a signal meanwhile waits, so both are whole.

    A failed write of the report keeps the result (the CLI still shows the
    suggestion) and says why in `write_error`; the plot is best-effort.
    """
    from lrfind.output.report import report_dict, write_report
    from lrfind.sweep.signals import after_sweep

    report = report_dict(
        result,
        settings=cfg.to_dict(),
        total_s=total_s,
        build_s=build_s,
        error=None if error is None else str(error),
    )
    report["distributed"] = distributed  # null for one process
    report_path = cfg.out_dir / REPORT_NAME
    with after_sweep():
        try:
            write_report(report, report_path)
        except OSError as e:
            failed = SweepError(cannot_write(report_path, e))
            return RunOutcome(result, report, report_path, None, distributed=distributed,
                              write_error=failed)  # fmt: skip
        plot_path, plot_warning = None, None
        if cfg.plot and result.steps_run > 0:
            plot_path, plot_warning = _plot(result, cfg.out_dir / PLOT_NAME)
        if plot_path is None:  # an earlier run's plot would be taken for this report's
            _remove_stale(cfg.out_dir / PLOT_NAME)
    return RunOutcome(
        result, report, report_path, plot_path, distributed=distributed, plot_warning=plot_warning
    )


def _plot(result: SweepResult, path: Path) -> tuple[Path | None, str | None]:
    """The plot, or why there is none: no failure of matplotlib's may cost the result."""
    try:
        from lrfind.output.plot import save_plot

        return save_plot(result, path), None
    except OSError as e:
        return None, f"no plot: {cannot_write(path, e)}"
    except Exception as e:
        return None, f"no plot ({describe_exception(e)}); the report is whole"

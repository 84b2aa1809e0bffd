"""The range-test loop: N optimizer steps on a copy of the model, LR rising.

The loop itself, readable on one screen: set each param group's LR, take one
step, hand the loss to the Recorder, which decides when to stop. The copy,
the optimizer and the step are the Stepper's (lrfind.sweep.step).
"""

from __future__ import annotations

import itertools
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, Literal, NoReturn

import torch

from lrfind.config.settings import SweepConfig
from lrfind.core.curve import lr_schedule
from lrfind.core.history import History, StopReason
from lrfind.errors import LrfindError, SweepError, describe_exception
from lrfind.sweep.adapters.describe import describe, innermost
from lrfind.sweep.device import resident_warning
from lrfind.sweep.groups import frozen_headline, group_ratios
from lrfind.sweep.loaders import cycle
from lrfind.sweep.mistakes import check_task, explain
from lrfind.sweep.optim import optimizer_origin
from lrfind.sweep.recorder import SYNC_EVERY, Recorder, Reduce
from lrfind.sweep.step import Stepper
from lrfind.sweep.task import Task

Progress = Callable[[int, int], None]


def run_sweep(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    sync_every: int | None = None,
    reduce: Reduce | None = None,
    wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
) -> History:
    """Run the range test on a deep copy of `task.model` and return its history.

    `sync_every` is how many steps' losses are read back to the host at once
    (default: 1 on the CPU, SYNC_EVERY on an accelerator). Raises SpecError
    for a build that cannot work (bad batches or loss) and SweepError when the
    user's code fails mid-sweep; both carry the partial history as `.history`.
    Under torchrun, `reduce` averages losses over the ranks and `wrap` puts the
    copy in DistributedDataParallel (see lrfind.distributed).
    """
    start = time.perf_counter()
    schedule = lr_schedule(config.start_lr, config.end_lr, config.steps, config.mode)
    if sync_every is None:
        sync_every = 1 if device.type == "cpu" else SYNC_EVERY
    rec = Recorder(config, schedule, sync_every, reduce)
    total = len(schedule)
    step, lr = 0, schedule[0]
    stepper: Stepper | None = None
    cycled: Iterator[Any] | None = None
    loop_start = start
    setting_up = True  # until the first step: a failure here has no step to name
    # One error path for all of the user's objects: the copy, its move to the device,
    # the val batches, the DDP wrap and compilation, then every step.
    try:
        check_task(task)
        warning = resident_warning(task.model, device)
        rec.warnings = () if warning is None else (warning,)
        stepper = Stepper(task, config, device, wrap)
        rec.pinned = stepper.pinned
        rec.optimizer = type(innermost(stepper.optimizer)).__name__  # for the priors
        ratios = group_ratios(stepper.optimizer)
        origin = optimizer_origin(task, config)
        frozen = frozen_headline(stepper.optimizer, ratios)
        notes = stepper.notes if frozen is None else [*stepper.notes, frozen]
        rec.training = describe(task, config, stepper.optimizer, origin, ratios, notes)
        batches = cycled = cycle(stepper.train_loader, stepper.accumulate)
        setting_up = False  # compiling happens in the first step's forward
        if config.compile:
            first = next(batches)
            stepper.warm_up(first)
            batches = itertools.chain([first], batches)
        groups = stepper.optimizer.param_groups
        # Capturable / fused optimizers keep the LR in a tensor, group by group (a tensor
        # lr= given to the constructor, one group with its own float): decided per group.
        pairs = [
            (g, r, isinstance(g["lr"], torch.Tensor)) for g, r in zip(groups, ratios, strict=True)
        ]
        loop_start = time.perf_counter()
        rec.setup_s = loop_start - start
        for step, lr in enumerate(schedule):
            if should_stop is not None and should_stop():
                rec.flush()
                return _finish(rec, "interrupted", loop_start)
            for group, ratio, tensor_lr in pairs:
                if tensor_lr:
                    group["lr"].fill_(lr * ratio)
                else:
                    group["lr"] = lr * ratio
            loss, skipped = stepper.step(batches)
            if progress is not None:
                progress(step + 1, total)
            if rec.add(step, loss, skipped):
                break
        else:
            rec.flush()  # the last, partial chunk
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
        rec.reduce = None  # no collective on the way out: the peers may be gone
        rec.flush()
        return _finish(rec, "interrupted", start)
    except BaseException as e:
        if should_stop is not None and should_stop() and not isinstance(e, SystemExit):
            # The signal that asked the sweep to stop also reached the DataLoader's workers
            # (a terminal's Ctrl-C goes to the whole process group; spawn workers exit on
            # it): their death is the interruption, not a failure of the user's code.
            rec.reduce = None
            rec.flush()
            return _finish(rec, "interrupted", start)
        _raise_failure(e, rec, task, stepper, setting_up, step, total, lr)
    finally:
        if cycled is not None:
            cycled.close()  # puts a sampler's epoch back (see cycle)
    return _finish(rec, "completed", loop_start)


def _raise_failure(
    e: BaseException,
    rec: Recorder,
    task: Task,
    stepper: Stepper | None,
    setting_up: bool,
    step: int,
    total: int,
    lr: float,
) -> NoReturn:
    """Raise the LrfindError that says what failed, with the partial history."""
    where = _where(e)
    # Errors in the loader name it themselves (cycle's, or the message below).
    during = _IN_VALIDATION if where == "validation" else ""
    if isinstance(e, LrfindError):
        if setting_up:  # the error says what failed
            raise e
        failure = type(e)(f"step {step + 1}/{total}{during}: {e}")
        failure.history = rec.partial()
        raise failure from e
    if where == "loader":  # the data pipeline (a collate_fn, a dataset) failed, not the model
        what = "taking a batch from the train loader (dataset, collate_fn, worker_init_fn) raised"
        message = f"step {step + 1}/{total}: {what} {describe_exception(e)}"
        if "stack expects each tensor to be equal size" in str(e):  # the default collate
            message += (
                "; the samples differ in size: pad them in a collate_fn (for detection "
                "targets, collate_fn=lambda b: tuple(zip(*b)))"
            )
        raise SweepError(message, history=rec.partial()) from e  # at run time: exit 1
    # SystemExit and the like too: the user's code must not end lrfind.
    batch = None if stepper is None else stepper.batch
    known = explain(e, task, batch, validation=where == "validation")
    if isinstance(known, LrfindError):
        known.history = rec.partial()
        raise known from e
    said = describe_exception(e)
    said = said[:-1] if known and said.endswith(".") else said  # "out of bounds; a class id"
    if setting_up:
        raise SweepError(f"setting up the sweep failed: {said}{known}") from e
    message = f"step {step + 1}/{total} (lr {lr:.3g}){during} failed: {said}"
    raise SweepError(message + known, history=rec.partial()) from e


_IN_VALIDATION = ", in the validation pass (the model in eval mode, on val_loader)"


def _where(e: BaseException) -> Literal["validation", "loader"] | None:
    """Where in the step `e` was raised, read from its traceback (nothing to pay per step)."""
    codes = {frame.f_code for frame, _ in traceback.walk_tb(e.__traceback__)}
    if Stepper.val_loss.__code__ in codes:
        return "validation"
    if cycle.__code__ in codes:
        return "loader"
    return None


def _finish(rec: Recorder, reason: StopReason, loop_start: float) -> History:
    rec.loop_s = time.perf_counter() - loop_start
    return rec.history(reason)

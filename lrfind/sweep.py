"""The range-test loop: N optimizer steps on a copy of the model, LR rising."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import torch

from lrfind.config import SweepConfig
from lrfind.curve import DivergenceRule, Ema, grace_steps, lr_schedule
from lrfind.device import resident_warning
from lrfind.errors import LrfindError, SweepError, describe_exception
from lrfind.history import History
from lrfind.optim import group_ratios
from lrfind.step import Stepper, cycle
from lrfind.task import Task

# On an accelerator, reading a loss back to the host waits for the device to
# finish; doing it every step would serialise host and device. Losses stay on
# the device and are read in chunks; the stop rule then runs over the chunk, so
# a sweep may run up to SYNC_EVERY - 1 steps past its stop point (counted as
# `overshoot`, and left out of the history). On the CPU there is nothing to
# wait for, and the rule runs every step.
SYNC_EVERY = 10
_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)

Progress = Callable[[int, int], None]
Reduce = Callable[[torch.Tensor], torch.Tensor]


class _Recorder:
    """Turns raw losses into the history and applies the stop rule.

    Losses arrive as tensors on the device. With `sync_every` 1 (the CPU) each
    is read and recorded at once; otherwise they queue up and are read back
    `sync_every` at a time, in one host sync.
    """

    def __init__(
        self, config: SweepConfig, schedule: list[float], sync_every: int, reduce: Reduce | None
    ) -> None:
        self.schedule = schedule
        self.sync_every = sync_every
        # Under torchrun, what is recorded is the mean over ranks (lrfind.distributed):
        # read through the queue, so that every rank takes the same stop decision
        # and the one-point path below stays as lean as it is.
        self.reduce = reduce
        self.immediate = sync_every == 1 and reduce is None
        self.ema = Ema(config.smoothing)
        self.rule = DivergenceRule(config.diverge_threshold, grace_steps(config.steps))
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.pending: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []
        self.stop: str | None = None
        self.overshoot = self.skipped = 0
        self.setup_s = self.loop_s = 0.0
        self.pinned = False
        self.warnings: tuple[str, ...] = ()
        self.optimizer = ""

    def add(self, step: int, loss: torch.Tensor, skipped: torch.Tensor | None) -> str | None:
        """Take one step's loss (and fp16 skip flag); return the stop reason once there is one."""
        if self.immediate:  # nothing to wait for: no queue, one point at a time
            if skipped is not None and skipped.item():
                self.skipped += 1
                return None
            return self.record(step, loss.item())
        self.pending.append((step, loss.detach(), skipped))
        return self.flush() if len(self.pending) >= self.sync_every else None

    def flush(self) -> str | None:
        """Read the queued losses back (one host sync) and record them until a stop."""
        if not self.pending or self.stop:
            return self.stop
        steps, losses, flags = zip(*self.pending, strict=True)
        self.pending.clear()
        values = torch.stack(losses).float()
        if self.reduce is not None:
            values = self.reduce(values)
        values = values.tolist()
        skipped = [False] * len(values) if flags[0] is None else torch.stack(flags).tolist()
        for i, (step, value, skip) in enumerate(zip(steps, values, skipped, strict=True)):
            if skip:
                self.skipped += 1
            elif self.record(step, value):
                self.overshoot = len(values) - i - 1
                break
        return self.stop

    def record(self, step: int, value: float) -> str | None:
        """Add one point to the history; return the stop reason once the rule fires."""
        smoothed = self.ema.update(value)
        self.lrs.append(self.schedule[step])
        self.losses.append(value)
        self.smoothed.append(smoothed)
        self.stop = self.rule.update(value, smoothed)
        return self.stop

    def history(self, reason: str) -> History:
        return History(
            self.lrs, self.losses, self.smoothed, self.stop or reason, self.overshoot,
            self.skipped, self.setup_s, self.loop_s, self.pinned, self.warnings, self.optimizer,
        )  # fmt: skip


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
    rec = _Recorder(config, schedule, sync_every, reduce)
    total = len(schedule)
    step, lr = 0, schedule[0]
    warning = resident_warning(task.model, device)
    rec.warnings = () if warning is None else (warning,)
    stepper = Stepper(task, config, device, wrap)
    rec.pinned = stepper.pinned
    rec.optimizer = type(stepper.optimizer).__name__
    batches = cycle(stepper.train_loader)
    try:
        if config.compile:
            first = next(batches)
            stepper.warm_up(first)
            batches = itertools.chain([first], batches)
        groups = stepper.optimizer.param_groups
        pairs = list(zip(groups, group_ratios(stepper.optimizer), strict=True))
        tensor_lr = any(isinstance(g["lr"], torch.Tensor) for g in groups)
        loop_start = time.perf_counter()
        rec.setup_s = loop_start - start
        for step, lr in enumerate(schedule):
            if should_stop is not None and should_stop():
                rec.flush()
                return _finish(rec, "interrupted", loop_start)
            for group, ratio in pairs:
                if tensor_lr:  # capturable / fused optimizers keep the LR in a tensor
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
    except LrfindError as e:
        raise _with_history(type(e)(f"step {step + 1}/{total}: {e}"), rec) from e
    except Exception as e:
        message = f"step {step + 1}/{total} (lr {lr:.3g}) failed: {describe_exception(e)}"
        raise _with_history(SweepError(message + _hint(e, stepper.batch)), rec) from e
    return _finish(rec, "completed", loop_start)


def _finish(rec: _Recorder, reason: str, loop_start: float) -> History:
    rec.loop_s = time.perf_counter() - loop_start
    return rec.history(reason)


def _hint(error: Exception, batch: Any) -> str:
    """A fix to suggest for failures whose cause lrfind can see."""
    if isinstance(error, _OOM):
        return "; lower the batch size (or use --accumulate, --amp bf16)"
    text = str(error)
    if "dtype" in text and any(_DTYPE_NAMES.get(t, "\0") in text for t in _dtypes(batch)):
        return "; the batch holds integer tensors: convert inputs (and regression targets) to float"
    return ""


# How torch's error messages name integer dtypes ("... got Long and Float").
_DTYPE_NAMES = {
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
}


def _dtypes(batch: Any) -> set[torch.dtype]:
    if isinstance(batch, torch.Tensor):
        return {batch.dtype}
    if isinstance(batch, dict):
        return set().union(*map(_dtypes, batch.values()))
    if isinstance(batch, tuple | list):
        return set().union(*map(_dtypes, batch))
    return set()


def _with_history(error: LrfindError, rec: _Recorder) -> LrfindError:
    """Attach what was recorded before the failure, so nothing is lost."""
    rec.reduce = None  # no collective after a failure: the peers may be gone
    try:
        rec.flush()
    except Exception:  # the device may be unusable after the failure
        rec.pending.clear()
    error.history = rec.history("error")  # type: ignore[attr-defined]
    return error

"""The range-test loop: N optimizer steps on a copy of the model, LR rising."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrfind.batch import StepLoss, check_loss, step_loss
from lrfind.config import SweepConfig
from lrfind.curve import DivergenceRule, Ema, grace_steps, lr_schedule
from lrfind.device import move_to
from lrfind.errors import LrfindError, SpecError, SweepError, describe_exception
from lrfind.optim import group_ratios, prepare
from lrfind.task import Task

# On an accelerator, reading a loss back to the host waits for the GPU to
# finish; doing it every step would serialise host and device. Losses stay on
# the device and are read in chunks; the stop rule then runs over the chunk, so
# a sweep may run up to SYNC_EVERY - 1 steps past its stop point (recorded as
# `overshoot`, and left out of the history).
SYNC_EVERY = 10
_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class History:
    """What the sweep recorded, one entry per optimizer step."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    #: "completed", "diverged", "nan" or "interrupted".
    stop_reason: str
    #: Steps that ran after the stop point before it was seen (accelerators only).
    overshoot: int = 0

    @property
    def steps_run(self) -> int:
        return len(self.lrs)


class _Recorder:
    """Turns raw losses into the history and applies the stop rule."""

    def __init__(self, config: SweepConfig, schedule: list[float]) -> None:
        self.schedule = schedule
        self.ema = Ema(config.smoothing)
        self.rule = DivergenceRule(config.diverge_threshold, grace_steps(config.steps))
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.pending: list[torch.Tensor] = []
        self.stop: str | None = None
        self.overshoot = 0

    def flush(self) -> str | None:
        """Read pending losses back (one host sync) and record them until a stop."""
        if not self.pending or self.stop:
            return self.stop
        values = torch.stack(self.pending).float().cpu().tolist()
        self.pending.clear()
        for i, value in enumerate(values):
            smoothed = self.ema.update(value)
            self.lrs.append(self.schedule[len(self.losses)])
            self.losses.append(value)
            self.smoothed.append(smoothed)
            self.stop = self.rule.update(value, smoothed)
            if self.stop:
                self.overshoot = len(values) - i - 1
                break
        return self.stop

    def history(self, reason: str) -> History:
        return History(self.lrs, self.losses, self.smoothed, self.stop or reason, self.overshoot)


def run_sweep(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> History:
    """Run the range test on a deep copy of `task.model` and return its history.

    Raises SpecError for a build that cannot work (bad batches or loss) and
    SweepError when the user's code fails mid-sweep; both carry the partial
    history as `.history`.
    """
    model, optimizer = prepare(task, config, device)
    compute = step_loss(task)
    schedule = lr_schedule(config.start_lr, config.end_lr, config.steps, config.mode)
    groups = optimizer.param_groups
    ratios = group_ratios(optimizer)
    rec = _Recorder(config, schedule)
    sync_every = 1 if device.type == "cpu" else SYNC_EVERY
    non_blocking = device.type == "cuda"
    batches = _cycle(task.train_loader)
    total = len(schedule)
    step, lr, batch = 0, schedule[0], None
    try:
        for step, lr in enumerate(schedule):
            if should_stop is not None and should_stop():
                rec.flush()
                return rec.history("interrupted")
            for group, ratio in zip(groups, ratios, strict=True):
                _set_lr(group, lr * ratio)
            batch = move_to(next(batches), device, non_blocking)
            loss = compute(model, batch)
            check_loss(loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if task.val_loader is not None:
                loss = _val_loss(model, task.val_loader, compute, device, non_blocking)
            rec.pending.append(loss.detach())
            if progress is not None:
                progress(step + 1, total)
            if (len(rec.pending) >= sync_every or step == total - 1) and rec.flush():
                break
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread
        rec.flush()
        return rec.history("interrupted")
    except LrfindError as e:
        raise _with_history(type(e)(f"step {step + 1}/{total}: {e}"), rec) from e
    except Exception as e:
        hint = _hint(e, batch)
        message = f"step {step + 1}/{total} (lr {lr:.3g}) failed: {describe_exception(e)}{hint}"
        raise _with_history(SweepError(message), rec) from e
    return rec.history("completed")


def _hint(error: Exception, batch: Any) -> str:
    """A fix to suggest for failures whose cause lrfind can see."""
    if isinstance(error, _OOM):
        return "; lower the batch size"
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


def _set_lr(group: dict[str, Any], lr: float) -> None:
    if isinstance(group["lr"], torch.Tensor):  # capturable / fused optimizers
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


def _cycle(loader: Iterable[Any]) -> Iterator[Any]:
    """Yield batches forever, restarting the loader whenever it runs out."""
    seen = 0
    while True:
        before = seen
        for batch in loader:
            seen += 1
            yield batch
        if seen == 0:
            raise SpecError("train_loader yielded no batches: is its dataset empty?")
        if seen == before:
            raise SpecError(
                f"train_loader stopped after {seen} batches and cannot restart (a generator?): "
                "return a DataLoader or a list, or lower --steps"
            )


def _val_loss(
    model: nn.Module, loader: Iterable[Any], compute: StepLoss, device: torch.device, nb: bool
) -> torch.Tensor:
    """Mean loss over the whole validation loader, in eval mode, without grad."""
    model.eval()
    total, count = None, 0
    with torch.no_grad():
        for batch in loader:
            loss = compute(model, move_to(batch, device, nb)).detach()
            total = loss if total is None else total + loss
            count += 1
    model.train()
    if total is None:
        raise SpecError("val_loader yielded no batches: is its dataset empty?")
    return total / count


def _with_history(error: LrfindError, rec: _Recorder) -> LrfindError:
    """Attach what was recorded before the failure, so nothing is lost."""
    try:
        rec.flush()
    except Exception:  # the device may be unusable after the failure
        rec.pending.clear()
    error.history = rec.history("error")  # type: ignore[attr-defined]
    return error

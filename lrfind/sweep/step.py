"""One optimizer step of the sweep: micro-batches, precision, compilation.

Everything that can be decided once (autocast or not, a GradScaler, memory
format) is decided in the constructor, so the step itself is the bare
training step plus nothing that waits for the device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from typing import Any

import torch

from lrfind.config.settings import SweepConfig
from lrfind.errors import SpecError, UsageError
from lrfind.sweep.batch import StepLoss, check_loss, step_loss
from lrfind.sweep.copy_setup import FP16_PARAMS, channels_last, copy_notes, loss_copy
from lrfind.sweep.device import move_to, pinned_loader
from lrfind.sweep.evaluate import BatchStats
from lrfind.sweep.first_step import (
    check_first_loss,
    check_gradients,
    check_outside,
    check_untouched,
    user_grads,
)
from lrfind.sweep.loaders import check_sized, fixed_batches, own_workers, why_empty
from lrfind.sweep.optim import gradient_clipper, prepare
from lrfind.sweep.param_hooks import peak_momentum
from lrfind.sweep.targets import broadcast_watch
from lrfind.sweep.task import Task

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Stepper:
    """Runs optimizer steps on the sweep's copy of the model.

    Attributes:
        model: the deep copy (compiled when config.compile), on the device.
        optimizer: the optimizer driving it; the sweep writes its LRs.
        train_loader: the loader to cycle through (a pinned-memory copy of a
            DataLoader on CUDA, see lrfind.sweep.device.pinned_loader).
        pinned: whether training batches come from pinned memory.
        batch: the last batch taken, for error messages.
    """

    def __init__(
        self,
        task: Task,
        config: SweepConfig,
        device: torch.device,
        wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
        validate_steps: bool = True,
    ) -> None:
        if task.stack is not None:  # a Trainer's loaders are made anew in each (seeded) sweep
            task.stack.start_sweep()
        self._user_grads = user_grads(task.model)  # the first step checks it got none
        self._user_model = task.model
        model, self.optimizer = prepare(task, config, device)
        task = loss_copy(task, device)  # a loss with buffers: on the device, the user's kept
        if config.channels_last:
            model = channels_last(model)
        if wrap is not None:  # DistributedDataParallel under torchrun, before compiling
            model = wrap(model)
        self.model = torch.compile(model) if config.compile else model
        #: What lrfind says once about how it read the model's outputs.
        # The copy's momentum, where a cycling scheduler marked it, goes to its peak-LR value.
        cycled = peak_momentum(self.optimizer)
        self.notes: list[str] = copy_notes(task) + cycled
        self.compute = _under_autocast(step_loss(task, self.notes), device, config.amp)
        self.val_compute = self.compute
        if task.stack is not None and task.stack.val_step is not None:  # validation_step
            val_step = step_loss(task, self.notes, validation=True)
            self.val_compute = _under_autocast(val_step, device, config.amp)
        self.device = device
        self.train_loader, self.pinned = pinned_loader(own_workers(task.train_loader), device)
        self.val_loader: Iterable[Any] | None = None
        self._val_count = 0  # batches in the first validation pass
        if config.val_batches is not None:
            val = own_workers(task.val_loader)
            fixed = fixed_batches(val, config.val_batches, task.stack_name)
            # Moved once: every step evaluates the same batches, already on the device.
            self.val_loader = [move_to(b, device, False, config.channels_last) for b in fixed]
        elif task.val_loader is not None:
            if validate_steps:  # whole after every step; a probe evaluates it once, at its end
                check_sized(task.val_loader)
            self.val_loader = pinned_loader(own_workers(task.val_loader), device)[0]
        # From pinned memory the copy runs while the host goes on queueing work;
        # from pageable memory non_blocking is a plain synchronous copy, so it is safe.
        self.non_blocking = device.type == "cuda"
        self.channels_last = config.channels_last
        self.accumulate = config.accumulate
        if config.amp == "fp16" and any(p.dtype == torch.float16 for p in model.parameters()):
            raise UsageError(FP16_PARAMS, setting="amp")  # the scaler cannot unscale them
        self.scaler: Any = _grad_scaler(device) if config.amp == "fp16" else None
        over = model if task.stack is not None and task.stack.clips_model else None
        self.clip = gradient_clipper(config, self.optimizer, over)
        # False for --refine's probes: they train on the batch losses and call val_loss() once.
        self.validate_steps = validate_steps and self.val_loader is not None
        self.batch_stats = BatchStats(self.model) if self.val_loader is not None else None
        if self.batch_stats is not None and self.batch_stats.layers:
            self.notes.append(
                "validation loss with BatchNorm on batch statistics: running statistics lag "
                "a rising LR (their buffers are restored after each evaluation)"
            )
        # One micro-batch, no GradScaler, no clipping, no validation pass: the common
        # case, which takes the bare training step (see step).
        self.lean = (
            self.accumulate == 1
            and self.scaler is None
            and self.clip is None
            and not self.validate_steps
        )
        self.batch: Any = None
        self._checked = False

    def take(self, batches: Iterator[Any]) -> Any:
        """The next batch, on the device (channels-last images where asked)."""
        self.batch = move_to(next(batches), self.device, self.non_blocking, self.channels_last)
        return self.batch

    def step(self, batches: Iterator[Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One optimizer step over `accumulate` micro-batches.

        Returns the loss (mean over the micro-batches; the validation loss
        when there is a val_loader; it may still carry its autograd node) and,
        with fp16, a flag that the scaler skipped the step; both stay on the device.
        """
        if self.lean and self._checked:
            # The bare training step and nothing else: every Python operation
            # here costs time on every step (see benchmarks/).
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.compute(self.model, self.take(batches))
            loss.backward()
            self.optimizer.step()
            return loss, None  # the recorder detaches it if it keeps it
        return self._full_step(batches)

    def _full_step(self, batches: Iterator[Any]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """step() with micro-batches, a GradScaler, a validation pass and the first-step check."""
        self.optimizer.zero_grad(set_to_none=True)
        total, first = None, not self._checked
        for _ in range(self.accumulate):
            if self._checked:
                loss = self.compute(self.model, self.take(batches))
            else:
                with broadcast_watch():
                    loss = self.compute(self.model, self.take(batches))
                check_loss(loss)
                check_first_loss(self.model)
                check_outside(loss, self.model, self._user_model)
                self._checked = True
            if self.accumulate > 1:
                loss = loss / self.accumulate
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()
            total = loss.detach() if total is None else total + loss.detach()
        if first:
            check_untouched(self._user_grads)
            check_gradients(self.optimizer)
            self._user_grads = []  # the copies are not needed after the first step
        if self.clip is not None:
            if self.scaler is not None:  # clip the true gradients, not the scaled ones
                self.scaler.unscale_(self.optimizer)
            self.clip()
        skipped = None
        if self.scaler is None:
            self.optimizer.step()
        else:
            before = self.scaler._scale.clone()  # the scale shrinks exactly when a step is skipped
            self.scaler.step(self.optimizer)
            self.scaler.update()
            skipped = self.scaler._scale < before
        if self.validate_steps:
            total = self.val_loss()
        return total, skipped

    def val_loss(self, batch_statistics: bool = True) -> torch.Tensor:
        """Mean loss over the validation loader (or its fixed batches, with
        val_batches), in eval mode, without grad; each module's mode as it was after.

        BatchNorm layers normalise with the batch's own statistics there, and
        their running buffers are put back afterwards (see BatchStats); with
        `batch_statistics=False` (a probe at a constant LR) with their running ones.
        """
        modes = [m.training for m in self.model.modules()]  # put back after, as they were
        self.model.eval()
        total, count = None, 0
        stats = self.batch_stats if batch_statistics else nullcontext()
        with torch.no_grad(), stats:  # type: ignore[union-attr]
            for batch in self.val_loader:  # type: ignore[union-attr]
                moved = move_to(batch, self.device, self.non_blocking, self.channels_last)
                loss = self.val_compute(self.model, moved).detach().float()
                total = loss if total is None else total + loss
                count += 1
        for module, mode in zip(self.model.modules(), modes, strict=True):
            module.training = mode
        if total is None and self._val_count:
            raise SpecError(
                f"val_loader gave {self._val_count} batches in the first validation pass and "
                "none in this one: it cannot restart (a generator?): return a DataLoader or a "
                "list, or pass --val-batches K (K batches, kept)"
            )
        if total is None:
            raise SpecError(f"val_loader yielded no batches: {why_empty(self.val_loader)}")
        self._val_count = self._val_count or count
        return total / count

    def warm_up(self, batch: Any) -> None:
        """Run forward and backward once (compiling them), then undo every trace of it.

        Gradients are dropped, buffers (BatchNorm statistics) restored and the
        RNG forked, so the curve that follows is the one an uncompiled model
        gives; the compile time stays out of the sweep's timing.
        """
        saved = [b.detach().clone() for b in self.model.buffers()]
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            moved = move_to(batch, self.device, self.non_blocking, self.channels_last)
            loss = self.compute(self.model, moved)
            check_loss(loss)
            loss.backward()
        self.model.zero_grad(set_to_none=True)
        with torch.no_grad():
            for buffer, value in zip(self.model.buffers(), saved, strict=True):
                buffer.copy_(value)


def _under_autocast(compute: StepLoss, device: torch.device, amp: str | None) -> StepLoss:
    """`compute` run under autocast for --amp; as it is otherwise (no context to enter)."""
    if amp is None:
        return compute
    autocast = torch.autocast(device.type, dtype=_AMP_DTYPES[amp])

    def under_autocast(model: torch.nn.Module, batch: Any) -> Any:
        with autocast:
            return compute(model, batch)

    return under_autocast


def _grad_scaler(device: torch.device) -> Any:
    amp = getattr(torch, "amp", None)
    scaler_cls = getattr(amp, "GradScaler", None)
    if scaler_cls is None:  # torch < 2.3: only the CUDA one exists
        if device.type != "cuda":
            raise UsageError(
                f"--amp fp16 on {device.type} needs torch >= 2.3; use --amp bf16", setting="amp"
            )
        return torch.cuda.amp.GradScaler()
    return scaler_cls(device.type)

"""Turning each step's loss into the history, and deciding when the sweep stops."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lrfind.config.settings import SweepConfig
from lrfind.core.curve import Ema
from lrfind.core.history import History, StopReason
from lrfind.core.stopping import stop_rule
from lrfind.core.training import Training

# On an accelerator, reading a loss back to the host waits for the device to
# finish; doing it every step would serialise host and device. Losses stay on
# the device and are read in chunks; the stop rule then runs over the chunk, so
# a sweep may run up to SYNC_EVERY - 1 steps past its stop point (counted as
# `overshoot`, and left out of the history). On the CPU there is nothing to
# wait for, and the rule runs every step.
SYNC_EVERY = 10

Reduce = Callable[[torch.Tensor], torch.Tensor]


class Recorder:
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
        self.rule = stop_rule(config)  # robust by default; --diverge-threshold: the ratio rule
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.pending: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []
        self.stop: StopReason | None = None
        self.overshoot = self.skipped = 0
        self.setup_s = self.loop_s = 0.0
        self.pinned = False
        self.warnings: tuple[str, ...] = ()
        self.optimizer = ""
        self.training: Training | None = None

    def add(self, step: int, loss: torch.Tensor, skipped: torch.Tensor | None) -> StopReason | None:
        """Take one step's loss (and fp16 skip flag); return the stop reason once there is one.

        A step the GradScaler skipped is still a point: its loss was measured on the model as
        the steps before left it, like any other. Dropped, the blow-up at the top of an fp16
        sweep (whose gradients overflow) would vanish from the curve, and with it the divergence.
        """
        if self.immediate:  # nothing to wait for: no queue, one point at a time
            if skipped is not None and skipped.item():
                self.skipped += 1
            return self.record(step, loss.item())
        self.pending.append((step, loss.detach(), skipped))
        return self.flush() if len(self.pending) >= self.sync_every else None

    def flush(self) -> StopReason | None:
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
            self.skipped += bool(skip)
            if self.record(step, value):
                self.overshoot = len(values) - i - 1
                break
        return self.stop

    def record(self, step: int, value: float) -> StopReason | None:
        """Add one point to the history; return the stop reason once the rule fires."""
        smoothed = self.ema.update(value)
        self.lrs.append(self.schedule[step])
        self.losses.append(value)
        self.smoothed.append(smoothed)
        self.stop = self.rule.update(value, smoothed)
        return self.stop

    def history(self, reason: StopReason) -> History:
        """What was recorded, ended by the rule's stop reason, else by `reason`."""
        return History(
            lrs=self.lrs,
            losses=self.losses,
            smoothed=self.smoothed,
            stop_reason=self.stop or reason,
            overshoot=self.overshoot,
            skipped=self.skipped,
            setup_s=self.setup_s,
            loop_s=self.loop_s,
            pinned=self.pinned,
            warnings=self.warnings,
            optimizer=self.optimizer,
            training=self.training,
        )

    def partial(self) -> History:
        """The history so far, after a failure: what could still be read back, no collective."""
        self.reduce = None  # the peers may be gone
        try:
            self.flush()
        except Exception:  # the device may be unusable after the failure
            self.pending.clear()
        return self.history("error")

"""--refine's probes: a fresh copy trained at one constant LR, as the sweep trains it.

Each probe takes the sweep's own path (the Stepper: the user's optimizer and
param groups at their LR ratios, clipping, accumulation, precision, the
stack), seeded as the sweep is, so every LR sees the same initial weights and
the same batches. The rule that reads the probes is lrfind.core.refinement's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sized

import torch

from lrfind.config.settings import SweepConfig
from lrfind.core.refinement import REACH, Probe, Refinement, refine
from lrfind.core.result import SweepResult
from lrfind.core.suggest import Suggestion, nearest_index
from lrfind.errors import LrfindError, SpecError, SweepError, UsageError, describe_exception
from lrfind.sweep.groups import group_ratios
from lrfind.sweep.guards import seeded, stop_on_interrupt, training
from lrfind.sweep.loaders import cycle, fixed_batches, own_workers, val_data_fix, why_empty
from lrfind.sweep.loop import Progress
from lrfind.sweep.step import Stepper
from lrfind.sweep.task import Task

NEEDS_VAL = (
    "--refine judges each probe by its validation loss as well as its training loss, and "
    "there is no validation data: {fix}"
)
PLAIN_FIX = "return a val_loader from build() (or pass val_loader= to find_lr)"
ONE_SHOT = (
    "--refine evaluates the val_loader after each probe, and it is a one-shot iterator ({what}): "
    "return a DataLoader or a list, or pass --val-batches K (its first K batches, kept)"
)


def sweep_part(task: Task, config: SweepConfig) -> tuple[Task, SweepConfig]:
    """The task and config the sweep itself runs: under --refine without the val_loader
    and --val-batches (the sweep reads the training loss, as the rule was measured; the
    probes read the validation loss), and a UsageError (exit 2) up front when there is no
    validation data to judge them by."""
    if not config.refine:
        return task, config
    val = task.val_loader
    if val is None:
        fix = val_data_fix(task.stack_name, PLAIN_FIX)
        raise UsageError(NEEDS_VAL.format(fix=fix), setting="refine")
    if config.val_batches is None and isinstance(val, Iterator):  # the second probe gets none
        raise UsageError(ONE_SHOT.format(what=type(val).__name__), setting="refine")
    if _empty(val):
        raise SpecError(f"val_loader yields no batches: {why_empty(val)}")
    return dataclasses.replace(task, val_loader=None), dataclasses.replace(config, val_batches=None)


def _empty(loader: object) -> bool:
    """A loader whose length, read without iterating it, is 0."""
    if not isinstance(loader, Sized) or isinstance(loader, Iterator):
        return False
    try:
        return len(loader) == 0
    except TypeError:  # a DataLoader over an IterableDataset has no length
        return False


def refined(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    result: SweepResult,
    progress: Progress | None = None,
) -> SweepResult:
    """`result` with --refine's probes, its headline suggestion moved to their LR; as it is
    without --refine, a suggestion, or after a Ctrl-C. A failed probe keeps the sweep's
    result (SweepError.finished) and its suggestion."""
    if not config.refine:
        return result
    result = dataclasses.replace(result, config=config)  # the sweep ran without val_batches
    if result.suggested_lr is None or result.stop_reason == "interrupted":
        return result
    swept_lr = result.suggested_lr
    with stop_on_interrupt() as interrupted:
        try:
            refinement = refine_task(task, config, device, swept_lr, progress, interrupted)
        except LrfindError as e:
            kept = f"{e}; the suggestion is the sweep's own, {swept_lr:.3g}"
            e.history = result.history
            e.finished = dataclasses.replace(result, warnings=[*result.warnings, kept])
            raise
    name, lr = result.method, refinement.lr
    moved = Suggestion(name, lr, nearest_index(result.history.lrs, lr))
    warnings = list(result.warnings)
    if abs(refinement.decades) >= REACH - 1e-9:
        warnings.append(
            f"--refine moved the suggestion {refinement.decades:+.0f} decade, as far as it "
            "goes: the best LR may lie further; check the probes in report.json"
        )
    if refinement.interrupted:
        warnings.append(
            "interrupted during --refine: the suggestion is the best LR probed"
            if refinement.probes
            else "interrupted in --refine's first probe: the suggestion is the sweep's own"
        )
    chosen = next((p for p in refinement.probes if p.lr == lr), None)
    if chosen is not None and not math.isfinite(chosen.train_loss):
        warnings.append(
            f"--refine: at the suggestion, {lr:.3g}, the loss turned non-finite after "
            f"{chosen.steps} of {config.steps} steps at a constant LR (so did every probe "
            "around it): train at a lower LR, or check the model and data for NaNs"
        )
    return dataclasses.replace(result, suggestions={**result.suggestions, name: moved},
                               warnings=warnings, refinement=refinement)  # fmt: skip


def refine_task(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    swept_lr: float,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Refinement:
    """The probes around `swept_lr`, config.steps steps each; SweepError if one fails.

    With val_batches K the K batches are taken once, so that every probe is judged on
    the same ones (a one-shot iterator would give each probe the next K)."""
    if config.val_batches is not None:
        with seeded(config.seed, device, (task.val_loader,)):
            val = own_workers(task.val_loader)
            kept = fixed_batches(val, config.val_batches, task.stack_name)
        task = dataclasses.replace(task, val_loader=kept)
        config = dataclasses.replace(config, val_batches=None)

    def probe(lr: float) -> Probe | None:
        if should_stop is not None and should_stop():
            return None
        try:
            return run_probe(task, config, device, lr, progress, should_stop)
        except KeyboardInterrupt:  # a second Ctrl-C: the sweep and the probes done are kept
            return None
        except LrfindError as e:
            raise type(e)(f"--refine's probe at lr {lr:.3g}: {e}") from e
        except Exception as e:  # the user's code, at an LR the sweep passed in one step
            raise SweepError(
                f"--refine's probe at lr {lr:.3g} failed: {describe_exception(e)}"
            ) from e

    return refine(swept_lr, probe)


def run_probe(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    lr: float,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Probe | None:
    """config.steps steps at `lr` (group 0's; the other groups at their ratios), then the
    validation loss; None when `should_stop` asks mid-way."""
    steps = config.steps
    losses: list[float] = []
    config = dataclasses.replace(config, compile=False)  # one probe's compile costs more than it
    loaders = (task.train_loader, task.val_loader)
    with training(), seeded(config.seed, device, loaders):
        stepper = Stepper(task, config, device, validate_steps=False)
        for group, ratio in zip(stepper.optimizer.param_groups, group_ratios(stepper.optimizer),
                                strict=True):  # fmt: skip
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr * ratio)
            else:
                group["lr"] = lr * ratio
        batches = cycle(stepper.train_loader, stepper.accumulate)
        try:
            for step in range(steps):
                if should_stop is not None and should_stop():
                    return None
                loss, _ = stepper.step(batches)
                losses.append(float(loss.detach()))  # read back: a diverged probe stops at once
                if progress is not None:
                    progress(step + 1, steps)
                if not math.isfinite(losses[-1]):
                    return Probe(lr, math.inf, math.inf, step + 1)
        finally:
            batches.close()
        tail = losses[-max(1, steps // 4) :]
        val = float(stepper.val_loss(batch_statistics=False))
    return Probe(lr, sum(tail) / len(tail), val if math.isfinite(val) else math.inf, steps)

"""The range test as one call: `find_lr` for notebooks and scripts, `sweep_task` for the CLI.

`sweep_task` is the one path every sweep takes (a notebook's find_lr, `lrfind
run`, each torchrun rank): seed, sweep a fresh copy, analyse; R times for
--repeats; then the sanity-prior warning.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lrfind.config.names import unknown_names
from lrfind.config.settings import SweepConfig
from lrfind.core.priors import prior_warnings
from lrfind.core.result import SweepResult, analyse, combine
from lrfind.errors import ConfigError, LrfindError, SpecError
from lrfind.sweep.adapters import stack_fields
from lrfind.sweep.adapters.base import with_stack_settings
from lrfind.sweep.curve_checks import check_curve
from lrfind.sweep.device import describe, resolve_device
from lrfind.sweep.guards import seeded, stop_on_interrupt, training
from lrfind.sweep.loop import Progress, run_sweep
from lrfind.sweep.probe import refined, sweep_part
from lrfind.sweep.task import OptimizerFactory, Task


def find_lr(
    model: nn.Module | Task | Any,
    train_loader: Iterable[Any] | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    *,
    optimizer: OptimizerFactory | torch.optim.Optimizer | str | None = None,
    val_loader: Iterable[Any] | None = None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    config: SweepConfig | None = None,
    progress: Progress | None = None,
    **settings: Any,
) -> SweepResult:
    """Run an LR range test on a copy of `model` and suggest a learning rate.

    `model` may also be a transformers.Trainer or a LightningModule (with a
    LightningDataModule or a loader as `train_loader`, and optionally your
    Lightning Trainer, for its clipping, accumulation and precision, in
    `loss_fn`'s place), taken as `lrfind run` takes them;
    `optimizer` an Optimizer, a factory `params -> Optimizer`, or a torch.optim
    name ("adam"), as --optimizer takes it. `model`, the optimizer you pass and
    the global RNG states are left exactly as they were. Settings come from
    `config` (a SweepConfig), overridden by keyword arguments of the same
    names (`steps=200, device="cuda"`, `clip_grad=1.0`). The first Ctrl-C ends
    the sweep at the next step with stop_reason "interrupted"; nothing is
    printed and no file is written. With
    `repeats=R` it runs R sweeps (seeds seed .. seed + R - 1, each on a fresh
    copy) and suggests their median (`result.repeats` holds them all).

    Example:
        >>> result = find_lr(model, loader, nn.CrossEntropyLoss(), end_lr=1)  # doctest: +SKIP
        >>> result.suggested_lr, result.stop_reason  # doctest: +SKIP
        (0.0031, 'diverged')
    """
    if isinstance(settings.get("device"), torch.device):  # what a notebook holds: "cuda:0"
        settings["device"] = str(settings["device"])
    if isinstance(optimizer, str):  # a torch.optim name, as --optimizer takes it: "adam"
        if settings.get("optimizer", optimizer) != optimizer:
            raise ConfigError(f"optimizer={optimizer!r} and optimizer={settings['optimizer']!r}")
        settings["optimizer"], optimizer = optimizer, None
    fields = None
    if not isinstance(model, Task) and not callable(loss_fn):
        # A transformers.Trainer, or a LightningModule (with its datamodule or loader, and
        # its Lightning Trainer in loss_fn's place): taken as build's return would be.
        parts = tuple(x for x in (model, train_loader, loss_fn) if x is not None)
        fields = stack_fields(parts[0] if len(parts) == 1 else parts, "find_lr was given")
    if fields is not None:
        task = Task(**_over_stack(fields, optimizer, val_loader, step_fn))
    elif isinstance(model, Task):
        if train_loader is not None or loss_fn is not None:
            raise TypeError("pass either a Task or (model, train_loader, loss_fn), not both")
        task = dataclasses.replace(model, given_by="find_lr")
    elif train_loader is None:
        raise SpecError("find_lr needs a train_loader: find_lr(model, train_loader, loss_fn)")
    else:
        task = Task(
            model=model,
            train_loader=train_loader,
            loss_fn=loss_fn,
            optimizer=optimizer,
            val_loader=val_loader,
            step_fn=step_fn,
            given_by="find_lr",
        )
    config = config or SweepConfig()
    defaults = SweepConfig()
    known = {f.name for f in dataclasses.fields(SweepConfig)}
    if settings:
        unknown = sorted(set(settings) - known)
        if unknown:
            named = unknown_names(unknown, known)
            listed = (
                "" if all(n.endswith(")") for n in named) else f": use {', '.join(sorted(known))}"
            )
            raise ConfigError(f"unknown setting(s) {'; '.join(named)}{listed}")
        config = dataclasses.replace(config, **settings)
    # What the caller set (keywords, a config off the defaults) wins over a stack's settings.
    explicit = set(settings) | {k for k in known if getattr(config, k) != getattr(defaults, k)}
    config, task = with_stack_settings(config, task, explicit)
    return sweep_task(task, config, resolve_device(config.device, python=True), progress)


def _over_stack(
    fields: dict[str, Any], optimizer: Any, val_loader: Any, step_fn: Any
) -> dict[str, Any]:
    """A stack's Task fields with what find_lr was also given: that wins, as settings do."""
    stack = fields["stack"]
    if step_fn is not None:
        raise ConfigError(
            f"step_fn= with a {stack.name}: its own step computes the loss; to use a step_fn, "
            "pass its model and a train_loader instead"
        )
    if optimizer is not None:
        stack.optimizer_by = "given to find_lr"
        stack.set_aside = [
            *stack.set_aside,
            f"the {stack.name}'s optimizer (find_lr was given one)",
        ]
        fields = {**fields, "optimizer": optimizer}
    if val_loader is not None:
        fields = {**fields, "val_loader": val_loader}
    return fields


@dataclass(frozen=True)
class RankHooks:
    """What a torchrun rank changes in a sweep (lrfind.distributed.Cluster).

    `reduce` averages the losses over the ranks, `wrap` puts the copy in
    DistributedDataParallel. A Ctrl-C is left to the caller: torchrun passes
    it to every rank, and the ranks stop together on the way out.
    """

    reduce: Callable[[torch.Tensor], torch.Tensor]
    wrap: Callable[[nn.Module], nn.Module]


def sweep_task(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    progress: Progress | None = None,
    ranks: RankHooks | None = None,
) -> SweepResult:
    """find_lr once its arguments are a Task, a checked config and a device.

    One sweep, or config.repeats of them combined, then --refine's probes and the
    sanity-prior warning: one path for one process and each torchrun rank."""
    swept, setup = sweep_part(task, config)  # under --refine, the val_loader is the probes'
    if config.repeats == 1:
        result = _sweep(swept, setup, device, progress, ranks)
    else:
        result = _repeat(swept, setup, device, progress, ranks)
    return _with_priors(refined(task, config, device, result, progress))


def _sweep(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    progress: Progress | None,
    ranks: RankHooks | None,
) -> SweepResult:
    """One range test on a fresh deep copy of the model, seeded with config.seed."""
    hooks = {} if ranks is None else {"reduce": ranks.reduce, "wrap": ranks.wrap}
    guard = stop_on_interrupt() if ranks is None else nullcontext(None)
    loaders = (task.train_loader, task.val_loader)
    with training(), seeded(config.seed, device, loaders), guard as interrupted:
        start = time.perf_counter()
        swept = run_sweep(task, config, device, progress, interrupted, **hooks)
        history = check_curve(task, swept, config, alone=ranks is None)
        sweep_s = time.perf_counter() - start
    return analyse(
        history,
        config,
        device=describe(device),
        sweep_s=sweep_s,
        loss_source=_loss_source(task, config),
    )


def _repeat(
    task: Task,
    config: SweepConfig,
    device: torch.device,
    progress: Progress | None,
    ranks: RankHooks | None,
) -> SweepResult:
    """config.repeats sweeps, seeds seed, seed + 1, ...; a Ctrl-C ends them all.

    Each repeat deep-copies the user's untouched model again, and its seed
    also reshuffles the data (a shuffling DataLoader draws its order from the
    seeded torch RNG).
    """
    runs: list[SweepResult] = []
    for i in range(config.repeats):
        one = dataclasses.replace(config, seed=config.seed + i, repeats=1)
        try:
            run = _sweep(task, one, device, _offset(progress, i, config.repeats), ranks)
        except LrfindError as e:
            e.args = (f"repeat {i + 1} of {config.repeats}, {e}",)
            if runs:  # the repeats that finished are whole sweeps: nothing is lost
                done = combine(runs, config)
                kept = (
                    f"repeat {i + 1} of {config.repeats} failed: the result is the {len(runs)} "
                    "that finished before it"
                )
                e.finished = dataclasses.replace(done, warnings=[*done.warnings, kept])
            raise
        if run.stop_reason == "interrupted":
            where = f"interrupted in repeat {i + 1} of {config.repeats}"
            if not runs:
                return dataclasses.replace(run, warnings=[*run.warnings, where])
            # The repeats that finished are whole sweeps: keep them, not the cut-short one.
            done = combine(runs, config)
            kept = f"{where}: the result is the {len(runs)} that finished"
            return dataclasses.replace(done, warnings=[*done.warnings, kept])
        runs.append(run)
    return combine(runs, config)


def _offset(progress: Progress | None, i: int, repeats: int) -> Progress | None:
    """Report repeat i's steps as part of one bar over all repeats."""
    if progress is None:
        return None
    report = progress

    def shifted(step: int, total: int) -> None:
        report(i * total + step, repeats * total)

    return shifted


def _loss_source(task: Task, config: SweepConfig) -> str:
    """What each recorded loss is: the training batch's, or the validation loss."""
    if task.val_loader is None:
        return "train"
    if config.val_batches is None:
        return "validation"
    k = config.val_batches
    return f"validation ({k} batch{'es' if k > 1 else ''})"


def _with_priors(result: SweepResult) -> SweepResult:
    """Add the sanity-prior warning for the (final, median) suggestion and its optimizer."""
    extra = prior_warnings(result.suggested_lr, result.optimizer, result.loss_source)
    return dataclasses.replace(result, warnings=[*result.warnings, *extra]) if extra else result

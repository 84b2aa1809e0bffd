"""A LightningModule, taken as it is: training_step is the loss, configure_optimizers the optimizer.

build may return the module alone (its own dataloader hooks), or a tuple of
it with a LightningDataModule, a train loader and/or the user's (unfitted)
Lightning Trainer, whose gradient_clip_val, accumulate_grad_batches (or
GradientAccumulationScheduler) and precision become lrfind's clip_grad,
accumulate and amp. No Trainer is run:
the module's hooks are called on the sweep's copy, as Lightning would call
them. Both package names (lightning.pytorch, pytorch_lightning) work; neither
is imported here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

from lrfind.errors import SpecError, describe_exception, user_code
from lrfind.sweep.adapters.base import FreshLoader, ModelOptimizer, Stack, has_class
from lrfind.sweep.adapters.base import overrides as _overrides
from lrfind.sweep.adapters.lightning_steps import (
    NO_TRAINER,
    PACKAGES,
    ROOTS,
    LightningSteps,
    Logs,
    step_takes_index,
)
from lrfind.sweep.adapters.lightning_steps import configure_optimizers as _configure
from lrfind.sweep.adapters.lightning_trainer import freeze_first, trainer_settings
from lrfind.sweep.guards import made_seeded

# The module's hooks that change training inside Trainer.fit; the sweep calls none of them.
_LOOP_HOOKS = (
    "on_fit_start",
    "on_train_start",
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_train_batch_end",
    "transfer_batch_to_device",  # on_before/after_batch_transfer do run (LightningSteps)
    "on_before_backward",
    "backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "optimizer_step",
    "on_before_zero_grad",
    "optimizer_zero_grad",
)
MODULE = tuple((f"{root}.core.module", "LightningModule") for root in ROOTS)
DATAMODULE = tuple((f"{root}.core.datamodule", "LightningDataModule") for root in ROOTS)
TRAINER = tuple((f"{root}.trainer.trainer", "Trainer") for root in ROOTS)


def overrides(obj: object, method: str) -> bool:
    return _overrides(obj, method, PACKAGES)


def is_module(obj: object) -> bool:
    return has_class(obj, *MODULE)


def lightning_fields(returned: object, came: str) -> dict[str, Any] | None:
    """The Task fields for a LightningModule build, or None when `returned` is not one.

    Forms: module; (module, datamodule); (module, loader); (module, train
    loader, val loader); any of those with the user's Lightning Trainer
    added. A tuple with anything else (a loss_fn) is left to the ordinary
    (model, loader, loss_fn) forms.
    """
    if is_module(returned):
        module, rest = returned, ()
    elif isinstance(returned, tuple | list) and len(returned) >= 2 and is_module(returned[0]):
        module, rest = returned[0], tuple(returned[1:])
    else:
        return None
    parts: dict[str, Any] = {}
    for item in rest:
        kind = _kind(item)
        if kind is None:
            return None
        if kind == "train loader" and kind in parts and "val loader" not in parts:
            kind = "val loader"  # (module, train, val), as in Trainer.fit(module, train, val)
        if kind in parts:
            raise SpecError(f"{came} two {kind}s with the LightningModule: give one")
        parts[kind] = item
    return _fields(module, parts, came)


def _kind(item: object) -> str | None:
    if has_class(item, *DATAMODULE):
        return "datamodule"
    if has_class(item, *TRAINER):
        return "Lightning Trainer"
    if isinstance(item, Iterable) and not isinstance(item, str | bytes | Mapping):
        return "train loader"
    return None


def _fields(module: Any, parts: dict[str, Any], came: str) -> dict[str, Any]:
    name = type(module).__name__
    if not getattr(module, "automatic_optimization", True):
        raise SpecError(
            f"{came} {name} with automatic_optimization = False: its training_step "
            "steps the optimizer itself, which needs a Lightning Trainer; return a Task with a "
            "step_fn(model, batch) -> loss instead"
        )
    # fit() keeps a frozen submodule's eval mode (Lightning >= 2.2, #18951): so does the sweep.
    stack = Stack(name="LightningModule", keeps_modes=True)
    stack.took += ["training_step"]
    data = parts.get("datamodule")
    train, evals = _loaders(module, data, parts.get("train loader"), came)
    if "val loader" in parts:
        evals = parts["val loader"]
    stack.loaders = tuple(x for x in (train, evals) if isinstance(x, FreshLoader))
    stack.took.append(_where(data, parts))
    steps = LightningSteps(module, step_takes_index(module.training_step))
    counter, val_counter = itertools.count(), itertools.count()
    if overrides(module, "validation_step") and evals is not None:
        steps.val_index = step_takes_index(module.validation_step)
        stack.val_step = lambda model, batch: model(batch, next(val_counter), True)
        stack.eval_loader = evals
        source = "the val loader given" if "val loader" in parts else "val_dataloader()"
        stack.took.append(f"validation_step and {source} (with --val-batches K or --refine)")
    stack.on_copy = _on_copy(data, train, evals)
    optimizer = None
    if overrides(module, "configure_optimizers"):
        build = lambda copy: _configure(copy.module, stack)  # noqa: E731
        optimizer = ModelOptimizer(build, "configure_optimizers")
    if overrides(module, "configure_gradient_clipping"):
        stack.set_aside.append("configure_gradient_clipping (it needs a Trainer: use --clip-grad)")
    hooks = [hook for hook in _LOOP_HOOKS if overrides(module, hook)]
    if hooks:
        stack.set_aside.append(f"{', '.join(hooks)} (hooks of Lightning's loop, which never runs)")
    trainer = parts.get("Lightning Trainer")
    if trainer is not None:
        stack.settings.update(trainer_settings(trainer, stack))
    own = overrides(module, "configure_callbacks")
    if own:
        stack.set_aside.append("configure_callbacks()'s callbacks (only a fine-tuning freeze runs)")
    freeze_first(trainer, stack, _from_module if own else None)
    if data is not None:
        _data_first(data, stack)
    return {
        "model": steps,
        "train_loader": train,
        "optimizer": optimizer,
        "step_fn": lambda model, batch: model(batch, next(counter)),
        "stack": stack,
    }


def _loaders(module: Any, data: Any, loader: Any, came: str) -> tuple[Any, Any]:
    """(train, eval): a loader given as it is, else the datamodule's, else the module's hooks."""
    name = type(module).__name__
    source = data if data is not None else module
    evals = None
    if overrides(source, "val_dataloader"):
        what = f"{type(source).__name__}.val_dataloader()"
        evals = FreshLoader(made_seeded(source.val_dataloader), what)
    if loader is not None:
        return loader, evals
    if not overrides(source, "train_dataloader"):
        what = f"its {type(data).__name__}" if data is not None else name
        raise SpecError(
            f"{came} {name}, but {what} has no train_dataloader(): give "
            "(module, datamodule) or (module, train_loader), or define train_dataloader()"
        )
    what = f"{type(source).__name__}.train_dataloader()"
    return FreshLoader(made_seeded(source.train_dataloader), what), evals


def _where(data: Any, parts: dict[str, Any]) -> str:
    if "train loader" in parts:
        return "the train loader given"
    if data is not None:
        return f"{type(data).__name__} (prepare_data, setup('fit'), train_dataloader())"
    return "the module's train_dataloader()"


def _on_copy(data: Any, train: Any, evals: Any) -> Any:
    """The hooks Lightning runs on the module before fitting, run on the sweep's copy
    (never on the user's module); without a datamodule, the copy's own dataloader
    hooks then give the data, after its setup()."""

    def on_copy(steps: nn.Module) -> None:
        copy = steps.module  # type: ignore[union-attr]
        logs = Logs()
        # Instance attributes shadow the methods on the copy only: no warnings, no cost.
        copy.log, copy.log_dict = logs.log, logs.log_dict
        steps.logs = logs  # type: ignore[union-attr]
        for hook, args in (("prepare_data", ()), ("setup", ("fit",)), ("configure_model", ())):
            _call(copy, hook, *args)
        if data is None:  # the copy's own hooks, after its setup
            for loader, hook in ((train, "train_dataloader"), (evals, "val_dataloader")):
                if isinstance(loader, FreshLoader):
                    loader.make = made_seeded(getattr(copy, hook))

    return on_copy


def _data_first(data: Any, stack: Stack) -> None:
    """The datamodule's prepare_data() and setup("fit") on the user's object, once, in the
    first sweep before the module's hooks and the fine-tuning freeze, as fit() orders them.

    In the sweep's seeded block, a split that setup draws (random_split, np.random) follows
    --seed, and the caller's RNG states are put back after; run when the stack is read, in
    find_lr, it drew from the caller's streams and advanced them.
    """
    after = stack.on_copy
    done: list[bool] = []  # once, also over --repeats: one fit() sets it up once

    def set_up_first(steps: nn.Module) -> None:
        if not done:
            _call(data, "prepare_data")
            _call(data, "setup", "fit")
            done.append(True)
        if after is not None:
            after(steps)

    stack.on_copy = set_up_first


def _call(obj: Any, hook: str, *args: Any) -> None:
    if not overrides(obj, hook):
        return
    name = type(obj).__name__
    try:
        getattr(obj, hook)(*args)
    except Exception as e:
        if isinstance(e, RuntimeError) and NO_TRAINER in str(e):
            raise SpecError(
                f"{name}.{hook}() uses self.trainer, which a range test does not have: make it "
                "work without one, or return a Task (model, train_loader, loss_fn)"
            ) from e
        raise SpecError(f"{name}.{hook}() raised {describe_exception(e)}") from e


def _from_module(copy: Any) -> list[Any]:
    """The callbacks the copy's configure_callbacks() gives, as fit() adds them."""
    with user_code(f"{type(copy).__name__}.configure_callbacks()", SpecError):
        made = copy.configure_callbacks()
    return list(made) if isinstance(made, list | tuple) else [made]

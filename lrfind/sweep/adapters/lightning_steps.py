"""A LightningModule's steps as a forward, its logging made harmless, its optimizer forms read.

LightningSteps plays the part of Lightning's own module wrapper: the sweep's
copy (compiled, or in DistributedDataParallel under torchrun) calls
training_step through forward(), so gradients are synchronised as in a fit.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import SpecError, describe_exception
from lrfind.sweep.adapters.base import overrides

PACKAGES = ("lightning", "pytorch_lightning")
ROOTS = ("lightning.pytorch", "pytorch_lightning")  # two packages, two sets of classes

NO_TRAINER = "not attached to a `Trainer`"


class Logs:
    """What self.log / self.log_dict received: nothing is logged, the last values are kept.

    validation_step often returns nothing and only logs its loss; the logged
    value is then the validation loss.
    """

    def __init__(self) -> None:
        self.last: dict[str, Any] = {}

    def log(self, name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        self.last[name] = value

    def log_dict(self, values: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        self.last.update(values)

    def loss(self, what: str) -> torch.Tensor:
        """The logged loss: "val_loss", else the one logged name with "loss" in it."""
        names = [k for k in self.last if "loss" in k.lower()]
        name = "val_loss" if "val_loss" in self.last else names[0] if len(names) == 1 else None
        if name is None:
            logged = ", ".join(self.last) or "nothing"
            raise SpecError(
                f"{what} returned None and logged {logged}: return the loss, "
                "or self.log('val_loss', loss)"
            )
        value = self.last[name]
        return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))


class LightningSteps(nn.Module):
    """training_step (and validation_step) of `module` as this module's forward."""

    def __init__(self, module: nn.Module, index: bool) -> None:
        super().__init__()
        self.module = module
        self.index, self.val_index = index, True
        self.logs: Logs | None = None  # set on the sweep's copy
        hooks = ("on_before_batch_transfer", "on_after_batch_transfer")
        # Batch hooks the user wrote (GPU augmentation): lrfind moved the batch already.
        self.hooks = tuple(h for h in hooks if overrides(module, h, PACKAGES))

    def forward(self, batch: Any, batch_idx: int = 0, validation: bool = False) -> torch.Tensor:
        module: Any = self.module
        for hook in self.hooks:
            batch = getattr(module, hook)(batch, 0)
        what = f"{type(module).__name__}.{'validation' if validation else 'training'}_step"
        step = module.validation_step if validation else module.training_step
        if validation and self.logs is not None:
            self.logs.last.clear()  # only what this validation_step logs is its loss
        try:
            indexed = self.val_index if validation else self.index
            out = step(batch, batch_idx) if indexed else step(batch)
        except RuntimeError as e:
            if NO_TRAINER in str(e):
                raise SpecError(
                    f"{what} uses self.trainer, which a range test lacks ({e}): give build a "
                    "step_fn(model, batch) that computes the loss without it"
                ) from e
            raise
        if isinstance(out, torch.Tensor):
            return out
        if isinstance(out, Mapping):
            if "loss" in out:
                return out["loss"]
            keys = ", ".join(map(str, out))
            raise SpecError(f"{what} returned a dict without 'loss' (keys: {keys})")
        if out is None:
            if validation and self.logs is not None:
                return self.logs.loss(what)
            raise SpecError(
                f"{what} returned None (Lightning skips such a step; a range test cannot): "
                "return the loss"
            )
        raise SpecError(f"{what} returned a {type(out).__name__}: return the loss tensor")


def step_takes_index(step: Any) -> bool:
    """Whether Lightning would pass batch_idx: a parameter named so, or two or more, or *args."""
    try:
        params = list(inspect.signature(step).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL or p.name == "batch_idx" for p in params):
        return True
    return len(params) >= 2


def configure_optimizers(module: Any, stack: Any) -> torch.optim.Optimizer:
    """module.configure_optimizers() on the sweep's copy, in every form Lightning accepts.

    One optimizer, with or without schedulers: the schedulers are set aside (and
    said so); they may have changed the LRs already, which is why the sweep
    takes the groups' ratios from their initial_lr.
    """
    try:
        returned = module.configure_optimizers()
    except RuntimeError as e:
        if NO_TRAINER in str(e):
            raise SpecError(
                "configure_optimizers uses self.trainer (e.g. estimated_stepping_batches), which a "
                "range test does not have: give the schedule a fixed length, or return a Task"
            ) from e
        raise SpecError(f"configure_optimizers raised {describe_exception(e)}") from e
    except Exception as e:
        raise SpecError(f"configure_optimizers raised {describe_exception(e)}") from e
    optimizers, schedulers = _forms(returned)
    if len(optimizers) != 1:
        raise SpecError(
            f"configure_optimizers returned {len(optimizers)} optimizers: Lightning trains "
            "several only with manual optimisation; return a Task with a step_fn and one optimizer"
        )
    for scheduler in schedulers:
        if isinstance(scheduler, Mapping):
            interval = scheduler.get("interval", "epoch")
            scheduler = scheduler.get("scheduler")
            text = f"lr_scheduler {type(scheduler).__name__} (interval {interval})"
        else:
            text = f"lr_scheduler {type(scheduler).__name__}"
        if text not in stack.set_aside:
            stack.set_aside.append(text)
    return optimizers[0]


def _forms(conf: Any) -> tuple[list[Any], list[Any]]:
    """(optimizers, schedulers) from what configure_optimizers returned, as Lightning reads it."""
    if isinstance(conf, torch.optim.Optimizer):
        return [conf], []
    if isinstance(conf, list | tuple):
        if len(conf) == 2 and isinstance(conf[0], list) and all(map(_is_optimizer, conf[0])):
            schedulers = conf[1] if isinstance(conf[1], list) else [conf[1]]
            return list(conf[0]), list(schedulers)
        if conf and all(isinstance(d, Mapping) and _is_optimizer(d.get("optimizer")) for d in conf):
            optimizers = [d["optimizer"] for d in conf]
            return optimizers, [d["lr_scheduler"] for d in conf if d.get("lr_scheduler")]
        if conf and all(map(_is_optimizer, conf)):
            return list(conf), []
    if isinstance(conf, Mapping) and _is_optimizer(conf.get("optimizer")):
        scheduler = conf.get("lr_scheduler")
        return [conf["optimizer"]], [scheduler] if scheduler is not None else []
    if conf is None:
        raise SpecError(
            "configure_optimizers returned None (Lightning would train nothing): "
            "return an optimizer"
        )
    raise SpecError(
        f"configure_optimizers returned {_shape(conf)}, which Lightning does not accept: return "
        "an optimizer, ([optimizer], [scheduler]) or {'optimizer': ..., 'lr_scheduler': ...}"
    )


def _is_optimizer(x: Any) -> bool:
    return isinstance(x, torch.optim.Optimizer)


def _shape(conf: Any) -> str:
    if isinstance(conf, tuple | list):
        inner = ", ".join(type(x).__name__ for x in conf)
        return f"a {type(conf).__name__} ({inner})"
    return f"a {type(conf).__name__}"

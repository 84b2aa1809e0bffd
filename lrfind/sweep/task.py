"""Task: what a `build()` entrypoint returns, in one typed shape."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lrfind.errors import SpecError

if TYPE_CHECKING:  # annotation only: the adapters import this module
    from lrfind.sweep.adapters.base import Stack

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class Task:
    """A model, its training data and how to compute its loss.

    `build()` may return this directly, a dict with these keys, a tuple
    `(model, train_loader)` / `(model, train_loader, loss_fn)` /
    `(model, train_loader, loss_fn, optimizer)`, or the training stack itself:
    a transformers.Trainer, or a LightningModule (with a LightningDataModule
    and a Lightning Trainer for its settings); lrfind.sweep.adapters reads those.

    Attributes:
        model: the model; lrfind sweeps a deep copy and never modifies it.
        train_loader: any iterable of batches (a DataLoader); cycled if short.
        loss_fn: `loss_fn(output, targets)`; None when the model returns its loss.
        optimizer: a factory `params -> Optimizer` (e.g. `partial(AdamW,
            weight_decay=0.05)`), or an Optimizer built on `model` whose param
            groups (and their LR ratios) the sweep keeps. None: SGD, momentum 0.9.
        val_loader: if given, the loss recorded at each step is the mean loss
            over this loader (slower, less noisy).
        step_fn: `step_fn(model, batch) -> loss` for batches of any other shape.

    Example:
        >>> Task(model, loader, nn.CrossEntropyLoss())  # doctest: +SKIP
    """

    model: nn.Module
    train_loader: Iterable[Any]
    loss_fn: Callable[..., torch.Tensor] | None = None
    optimizer: OptimizerFactory | torch.optim.Optimizer | None = None
    val_loader: Iterable[Any] | None = None
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None
    #: Set by lrfind when build returned a Trainer or a LightningModule: what it took from it.
    stack: Stack | None = field(default=None, repr=False, compare=False)
    #: Who handed the task to the sweep, for the Swept line: "build" or "find_lr".
    given_by: str = field(default="build", repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = _check_fields(self)
        if problems:
            raise SpecError("; ".join(problems))

    @property
    def stack_name(self) -> str | None:
        """The training stack's name ("transformers.Trainer", "LightningModule"), or None."""
        return None if self.stack is None else self.stack.name


TASK_KEYS = tuple(f.name for f in fields(Task) if f.name not in ("stack", "given_by"))


def task_from_build(returned: object, origin: str) -> Task:
    """Turn whatever `build` returned into a Task, or explain what is wrong.

    `origin` names the function in messages, e.g. "build() in model.py".
    """
    if isinstance(returned, Task):
        return returned
    from lrfind.sweep.adapters import stack_fields

    # A Trainer or a LightningModule, taken as it is.
    stacked = stack_fields(returned, f"{origin} returned")
    if stacked is not None:
        return _make(origin, **stacked)
    if returned is None:
        raise SpecError(f"{origin} returned None: return (model, train_loader, loss_fn)")
    if type(returned).__name__.endswith("Trainer") and not isinstance(returned, nn.Module):
        raise SpecError(
            f"{origin} returned a {type(returned).__name__}, which lrfind does not read: return a "
            "transformers.Trainer, or (LightningModule, LightningDataModule, Lightning Trainer)"
        )
    if isinstance(returned, nn.Module):
        raise SpecError(
            f"{origin} returned only a model: return (model, train_loader, loss_fn) "
            "or (model, train_loader) if the model computes its own loss"
        )
    if isinstance(returned, Mapping):
        unknown = sorted(str(k) for k in returned if k not in TASK_KEYS)
        if unknown:
            why = ""
            if any("sched" in k.lower() for k in unknown):
                why = (
                    "; a range test sets the LR itself at every step, so it takes no scheduler "
                    "(drop it; `lrfind schedule` writes one from the sweep)"
                )
            raise SpecError(
                f"{origin} returned a dict with unknown key(s) {', '.join(unknown)}: "
                f"allowed keys are {', '.join(TASK_KEYS)}{why}"
            )
        missing = [k for k in ("model", "train_loader") if k not in returned]
        if missing:
            raise SpecError(f"{origin} returned a dict without {' and '.join(missing)}")
        return _make(origin, **returned)
    if isinstance(returned, tuple | list):
        if len(returned) in (2, 3, 4):  # the fourth: an optimizer (or its factory)
            return _make(origin, *returned)
        raise SpecError(
            f"{origin} returned a {len(returned)}-tuple: return (model, train_loader), "
            "(model, train_loader, loss_fn) or (model, train_loader, loss_fn, optimizer), "
            "or a dict for more fields"
        )
    raise SpecError(
        f"{origin} returned a {type(returned).__name__}: return (model, train_loader, loss_fn), "
        "a dict or an lrfind.Task"
    )


def _make(origin: str, *args: Any, **kwargs: Any) -> Task:
    try:
        return Task(*args, **kwargs)
    except SpecError as e:
        raise SpecError(f"{origin} returned {e}") from None


def _check_fields(task: Task) -> list[str]:
    problems = []
    if not isinstance(task.model, nn.Module):
        problem = f"{_kind(task.model)} as the model: expected a torch.nn.Module"
        problem += _stack_hint(task.model)
        problems.append(problem)
    for name in ("train_loader", "val_loader"):
        value = getattr(task, name)
        if value is None and name == "val_loader":
            continue
        if isinstance(value, str | bytes | Mapping | torch.Tensor) or not isinstance(
            value, Iterable
        ):
            problems.append(
                f"{_kind(value)} as {name}: expected an iterable of batches (a DataLoader)"
            )
    for name in ("loss_fn", "step_fn"):
        value = getattr(task, name)
        if value is not None and not callable(value):
            problems.append(f"{_kind(value)} as {name}: expected a callable")
    opt = task.optimizer
    if opt is not None and not (isinstance(opt, torch.optim.Optimizer) or callable(opt)):
        problems.append(
            f"{_kind(opt)} as optimizer: expected a factory params -> Optimizer "
            "(e.g. functools.partial(torch.optim.AdamW, weight_decay=0.01)) or an Optimizer"
        )
    return problems


def _kind(value: object) -> str:
    """Its type, with an article: "an int", "a Tensor of shape [3, 4]"."""
    if isinstance(value, torch.Tensor):
        return f"a Tensor of shape {list(value.shape)}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _stack_hint(value: object) -> str:
    """The fix when a Trainer came where the model goes (by class, without importing them)."""
    for cls in type(value).__mro__:
        package = cls.__module__.split(".")[0]
        if cls.__name__ == "Trainer" and package == "transformers":
            return "; return the transformers Trainer alone (it brings its data and loss)"
        if cls.__name__ == "Trainer" and package in ("lightning", "pytorch_lightning"):
            return "; return (module, datamodule_or_loader, trainer): the LightningModule first"
    return ""

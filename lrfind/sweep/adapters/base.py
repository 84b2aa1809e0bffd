"""What every training-stack adapter shares: recognising classes, loaders made per sweep, the Stack.

A stack (a transformers Trainer, a LightningModule) is recognised by the
classes in its MRO, by module and name, so lrfind never imports a library
the user's object does not come from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lrfind.config.settings import SweepConfig
from lrfind.errors import SpecError, describe_exception


def has_class(obj: object, *names: tuple[str, str]) -> bool:
    """Whether a class in type(obj)'s MRO is one of the (module, qualname) pairs."""
    return any((c.__module__, c.__qualname__) in names for c in type(obj).__mro__)


def keys_of(mapping: Mapping[Any, Any]) -> str:
    """A dict's keys for a message: "input_ids, labels" ("none" for an empty one)."""
    return ", ".join(map(str, mapping)) or "none"


def overrides(obj: object, method: str, library: tuple[str, ...]) -> bool:
    """Whether `method` of type(obj) is the user's own, not the one a `library` package defines."""
    for cls in type(obj).__mro__:
        if method in vars(cls):
            return cls.__module__.split(".")[0] not in library
    return False


class FreshLoader:
    """A loader made on first use in each sweep (inside its seeded block), a new epoch per pass.

    A Trainer's loader fixes its shuffling seed when it is made (accelerate's
    SeedableRandomSampler takes torch's seed at that moment), so made at build
    time every repeat would see the same order; and it repeats that order on
    every pass unless told its epoch, as the Trainer does with set_epoch.
    """

    def __init__(self, make: Callable[[], Iterable[Any]], what: str) -> None:
        self.make = make
        self.what = what
        self._loader: Iterable[Any] | None = None
        self._epoch = 0

    def restart(self) -> None:
        """Forget the loader: the next pass makes a new one (a new sweep, a new seed)."""
        self._loader, self._epoch = None, 0

    def __iter__(self) -> Iterator[Any]:
        if self._loader is None:
            try:
                self._loader = self.make()
            except Exception as e:
                raise SpecError(f"{self.what} raised {describe_exception(e)}") from e
        else:
            self._epoch += 1
            set_epoch = getattr(self._loader, "set_epoch", None)
            if callable(set_epoch):
                set_epoch(self._epoch)
        return iter(self._loader)


class ModelOptimizer:
    """An optimizer factory that needs the sweep's copy of the model, not only its parameters.

    `origin` says where the optimizer comes from ("the Trainer's create_optimizer").
    """

    def __init__(self, build: Callable[[nn.Module], torch.optim.Optimizer], origin: str) -> None:
        self.build = build
        self.origin = origin

    def __call__(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        raise SpecError(f"the optimizer from {self.origin} is built on the model, not on params")


@dataclass
class Setting:
    """A SweepConfig value a stack sets (max_grad_norm -> clip_grad), and its name there."""

    value: Any
    label: str


@dataclass
class Stack:
    """What an adapter took from a training stack, beyond the Task's own fields.

    Attributes:
        name: "transformers.Trainer", "LightningModule".
        took / set_aside: what lrfind uses, and what it leaves out (the scheduler).
        settings: SweepConfig fields the stack sets; the command line and the
            config file win over them (see with_stack_settings).
        on_copy: run on the sweep's deep copy before it moves to the device
            (Lightning's setup hooks; self.log made harmless).
        keeps_modes: the copy keeps each submodule's train / eval mode as the user left it
            (Lightning's fit() does), instead of model.train().
        val_step: `f(model, batch) -> loss` for the validation loss, if not the training one.
        eval_loader: the stack's validation data, used with --val-batches K.
        loaders: FreshLoaders to restart at the start of each sweep.
        optimizer_by: who replaced the stack's optimizer ("given to find_lr"), if anyone.
        clips_model: its clipping bounds the norm over all the model's parameters, not only
            the optimizer's (transformers' Trainer clips model.parameters()).
    """

    name: str
    took: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    settings: dict[str, Setting] = field(default_factory=dict)
    on_copy: Callable[[nn.Module], None] | None = None
    keeps_modes: bool = False
    val_step: Callable[[nn.Module, Any], Any] | None = None
    eval_loader: Iterable[Any] | None = None
    loaders: tuple[FreshLoader, ...] = ()
    optimizer_by: str | None = None
    clips_model: bool = False

    def start_sweep(self) -> None:
        for loader in self.loaders:
            loader.restart()

    def applied(self, config: SweepConfig) -> tuple[list[str], list[str]]:
        """(took, set_aside) once `config` is final: a setting overridden there is set aside."""
        took, aside = list(self.took), list(self.set_aside)
        clipping = bool(config.clip_grad)
        for key, setting in self.settings.items():
            now = getattr(config, key)
            if key == "clip_mode" and not clipping:
                continue  # no clipping, so no clipping algorithm to take or set aside
            if now == setting.value:
                took.append(setting.label)
            elif key == "clip_mode":  # a clip_grad given keeps its own mode
                aside.append(f"{setting.label} (clip_grad given: it clips by {now!r})")
            else:
                aside.append(f"{setting.label} ({key} = {now!r} given)")
        return took, aside


def with_stack_settings(
    config: SweepConfig, task: Any, explicit: Collection[str]
) -> tuple[SweepConfig, Any]:
    """The config and task a sweep of `task` runs with: the stack's settings where none was given.

    `explicit` names the SweepConfig fields the user set (command line, config
    file, find_lr's keywords); the stack fills the others. A stack's eval data
    becomes the val_loader when --val-batches or --refine asks for one.
    """
    stack = getattr(task, "stack", None)
    if stack is None:
        return config, task
    values = {k: s.value for k, s in stack.settings.items() if k not in explicit}
    if "clip_grad" in explicit:  # a clip size the user gave keeps its own (or the default) mode
        values.pop("clip_mode", None)
    if values:
        config = dataclasses.replace(config, **values)
    wanted = config.val_batches is not None or config.refine
    if wanted and task.val_loader is None and stack.eval_loader is not None:
        task = dataclasses.replace(task, val_loader=stack.eval_loader)
    return config, task

"""A transformers.Trainer, taken as it is: its model, loaders, optimizer, loss and settings.

No Trainer.train() runs. What the Trainer does inside train() that a range
test needs is redone here on lrfind's terms: the loaders are made inside the
sweep's seeded block, the optimizer is built by the Trainer's own
create_optimizer on the sweep's copy of the model, the loss is its
compute_loss; max_grad_norm, gradient accumulation and bf16/fp16 become
lrfind's clip_grad, accumulate and amp. The LR scheduler is set aside.
transformers itself is never imported here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import SpecError
from lrfind.sweep.adapters.base import (
    FreshLoader,
    ModelOptimizer,
    Setting,
    Stack,
    has_class,
    keys_of,
    overrides,
)

TRAINER = ("transformers.trainer", "Trainer")
MODEL_OUTPUT = ("transformers.utils.generic", "ModelOutput")


def is_trainer(obj: object) -> bool:
    """A transformers.Trainer, or a subclass (Seq2SeqTrainer, the user's own)."""
    return has_class(obj, TRAINER)


def is_model_output(obj: object) -> bool:
    """A Hugging Face ModelOutput (SequenceClassifierOutput, CausalLMOutput, ...)."""
    return has_class(obj, MODEL_OUTPUT)


def trainer_fields(trainer: Any, came: str) -> dict[str, Any]:
    """The Task fields a Trainer stands for; SpecError when it cannot train as it is."""
    args = trainer.args
    name = type(trainer).__name__
    if trainer.train_dataset is None:
        raise SpecError(
            f"{came} a {name} without a train_dataset: "
            "pass Trainer(train_dataset=...), the data the sweep trains on"
        )
    make_train = _untracked(trainer, trainer.get_train_dataloader)
    train = FreshLoader(make_train, f"the {name}'s get_train_dataloader()")
    loaders = [train]
    stack = Stack(name="transformers.Trainer" if name == "Trainer" else f"{name} (a Trainer)")
    stack.clips_model = True  # its max_grad_norm is over model.parameters(), not the groups'
    stack.took += ["model", "get_train_dataloader()"]
    if trainer.eval_dataset is not None:
        evals, called = _eval_loader(trainer)
        loaders.append(evals)
        stack.eval_loader = evals
        stack.took.append(f"{called} (with --val-batches K or --refine)")
    stack.loaders = tuple(loaders)
    loss_func = getattr(trainer, "compute_loss_func", None)
    stack.took.append("compute_loss" + (" with compute_loss_func" if loss_func else ""))
    smoothing = float(getattr(args, "label_smoothing_factor", 0.0) or 0.0)
    if smoothing:
        stack.took.append(f"label_smoothing_factor {smoothing:g}")

    given = trainer.optimizer
    if given is not None:  # optimizers=(optimizer, scheduler): the user's own instance
        optimizer: Any = given
        stack.took.append("optimizers=(optimizer, ...)")
    else:
        how = f"the {name}'s create_optimizer"
        cls_and_kwargs = getattr(trainer, "optimizer_cls_and_kwargs", None)
        if cls_and_kwargs:  # Trainer(optimizer_cls_and_kwargs=(cls, kwargs)): optim is unused
            how += f", optimizer_cls_and_kwargs=({getattr(cls_and_kwargs[0], '__name__', '?')})"
        elif not overrides(trainer, "create_optimizer", ("transformers",)):
            how += f", optim={_value(args.optim)}"  # a subclass's own one may ignore optim
        optimizer = ModelOptimizer(lambda model: _create_optimizer(trainer, model), how)
    stack.settings.update(_settings(args))
    stack.set_aside += _set_aside(trainer, args)
    return {
        "model": trainer.model,
        "train_loader": train,
        "optimizer": optimizer,
        "step_fn": _compute_loss(trainer),
        "stack": stack,
    }


def _create_optimizer(trainer: Any, model: nn.Module) -> torch.optim.Optimizer:
    """trainer.create_optimizer() on the sweep's copy; the user's Trainer is left as it was.

    A shallow copy gets its own attribute dict, so pointing it at the copy of
    the model changes nothing on the original, and a subclass's own
    create_optimizer (its param groups) still runs.
    """
    shadow = copy.copy(trainer)
    shadow.model = shadow.model_wrapped = model
    shadow.optimizer = None
    try:
        # transformers ignores what it returns: an override may only set self.optimizer.
        optimizer = shadow.create_optimizer() or shadow.optimizer
    except Exception as e:
        raise SpecError(
            f"the Trainer's create_optimizer raised {type(e).__name__}: {e}; "
            "give the Trainer optimizers=(optimizer, None) or return a Task"
        ) from e
    if not isinstance(optimizer, torch.optim.Optimizer):
        # Some optim= choices (bitsandbytes, schedule-free, ...) wrap a torch optimizer.
        inner = getattr(optimizer, "optimizer", None)
        if not isinstance(inner, torch.optim.Optimizer):
            raise SpecError(
                f"the Trainer built a {type(optimizer).__name__}, not a torch.optim.Optimizer: "
                "set optim= to a torch optimizer (adamw_torch, sgd, ...) or return a Task"
            )
        optimizer = inner
    return optimizer


def _eval_loader(trainer: Any) -> tuple[FreshLoader, str]:
    """The eval loader, and how it is called: a dict of eval datasets gives its first."""
    evals = trainer.eval_dataset
    key = next(iter(evals)) if isinstance(evals, Mapping) and evals else None  # {"a": ...}
    called = "get_eval_dataloader()" if key is None else f"get_eval_dataloader({key!r})"
    make = trainer.get_eval_dataloader if key is None else lambda: trainer.get_eval_dataloader(key)
    loader = FreshLoader(_untracked(trainer, make), f"the {type(trainer).__name__}'s {called}")
    if key is not None and len(evals) > 1:
        called += f", the first of {len(evals)} eval datasets,"
    return loader, called


def _untracked(trainer: Any, make: Any) -> Any:
    """`make` (a loader factory) that leaves no loader registered on the Trainer's accelerator.

    get_*_dataloader() runs accelerator.prepare(), which appends the loader to the
    accelerator's list (for its checkpoints): the user's Trainer is left as it was.
    """

    def untracked() -> Any:
        registered = getattr(getattr(trainer, "accelerator", None), "_dataloaders", None)
        before = list(registered) if isinstance(registered, list) else None
        loader = make()
        if before is not None:
            registered[:] = before  # type: ignore[index]
        return loader

    return untracked


def _compute_loss(trainer: Any) -> Any:
    """The Trainer's compute_loss, as a step_fn, with `self.model` the sweep's copy.

    An override's `self.model(**inputs)` (common, and what Trainer.train() runs)
    must reach the copy being swept, never the user's model: it is called on a
    shallow copy of the Trainer that points at the copy for the call only (so
    no sweep's copy outlives its sweep, as --repeats' next one is made).
    """
    shadow = copy.copy(trainer)

    def compute(model: nn.Module, inputs: Any) -> Any:
        shadow.model = shadow.model_wrapped = model
        try:
            return shadow.compute_loss(model, inputs)
        finally:
            shadow.model = shadow.model_wrapped = None

    def trainer_loss(model: nn.Module, batch: Any) -> Any:
        # A shallow copy: compute_loss pops "labels" (label smoothing, compute_loss_func),
        # and lrfind evaluates the same validation batches at every step.
        try:
            loss = compute(model, dict(batch) if isinstance(batch, Mapping) else batch)
        except ValueError as e:  # the Trainer's own words for batches without labels
            if not str(e).startswith("The model did not return a loss"):
                raise
            keys = keys_of(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise SpecError(
                f"the Trainer's model returned no loss from a batch of {keys}: give the batches "
                "the labels it takes (a 'labels' column in train_dataset, or "
                "TrainingArguments(label_names=[...]) naming yours)"
            ) from None
        return loss[0] if isinstance(loss, tuple) else loss  # overrides may return (loss, outputs)

    return trainer_loss


def _settings(args: Any) -> dict[str, Setting]:
    """max_grad_norm, gradient accumulation and precision, as lrfind's settings."""
    out = {}
    norm = float(getattr(args, "max_grad_norm", 0.0) or 0.0)
    if norm > 0:  # the Trainer clips only when it is > 0
        out["clip_grad"] = Setting(norm, f"max_grad_norm {norm:g}")
    steps = int(getattr(args, "gradient_accumulation_steps", 1) or 1)
    if steps > 1:
        out["accumulate"] = Setting(steps, f"gradient_accumulation_steps {steps}")
    if getattr(args, "bf16", False):
        out["amp"] = Setting("bf16", "bf16")
    elif getattr(args, "fp16", False):
        out["amp"] = Setting("fp16", "fp16")
    return out


def _set_aside(trainer: Any, args: Any) -> list[str]:
    """What the Trainer would do in train() that a range test leaves out, said plainly."""
    own = getattr(trainer, "lr_scheduler", None) is not None
    if own:  # it replaces lr_scheduler_type and its warmup
        out = [f"the scheduler in optimizers=({type(trainer.lr_scheduler).__name__})"]
    else:
        out = [f"lr_scheduler_type {_value(args.lr_scheduler_type)}"]
    # warmup_steps below 1 is a ratio of the run (transformers 5 folded warmup_ratio into it).
    warmup = getattr(args, "warmup_steps", 0) or getattr(args, "warmup_ratio", 0)
    if warmup and not own:
        out.append(f"warmup_steps {warmup:g}" + (" (a ratio of the run)" if warmup < 1 else ""))
    for flag in ("torch_compile", "gradient_checkpointing", "use_liger_kernel"):
        if getattr(args, flag, False):
            out.append(flag)
    if getattr(args, "neftune_noise_alpha", None):
        out.append(f"neftune_noise_alpha {args.neftune_noise_alpha:g}")
    if getattr(args, "deepspeed", None) or getattr(args, "fsdp", None):
        out.append("deepspeed/fsdp (the sweep runs one copy of the model on one device)")
    if overrides(trainer, "training_step", ("transformers",)):
        out.append(f"{type(trainer).__name__}.training_step (the sweep steps with compute_loss)")
    handler = getattr(trainer, "callback_handler", None)
    own = [  # the user's callbacks (transformers' own log, report or stop early)
        type(c).__name__
        for c in getattr(handler, "callbacks", ())
        if type(c).__module__.split(".")[0] != "transformers"
    ]
    if own:
        out.append(f"callbacks ({', '.join(own)}): the sweep runs no Trainer events")
    return out


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))

"""From one batch to one scalar loss, for every batch form of the build contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import SpecError
from lrfind.sweep.adapters.base import keys_of
from lrfind.sweep.adapters.outputs import OutputReader, is_detection_batch, note, summed_losses
from lrfind.sweep.task import Task

StepLoss = Callable[[nn.Module, Any], Any]


_PREDICTIONS = (
    "in eval mode the model returns {n} per-image predictions, not losses: torchvision's "
    "detection models compute their losses only in train mode; drop the val_loader (and "
    "--val-batches), or give a step_fn"
)
_STACKED_TARGETS = (
    "the batches' targets are one dict of batched tensors ({keys}), as the default collate "
    "makes of per-image dicts; torchvision's detection models take a list of them: "
    "DataLoader(..., collate_fn=lambda b: tuple(zip(*b))); another model needs a loss_fn or "
    "a step_fn"
)


def step_loss(task: Task, notes: list[str] | None = None, validation: bool = False) -> StepLoss:
    """Return `f(model, batch) -> loss` for the task.

    - `step_fn` given: it is used as is (a stack's validation step, for `validation`).
    - a dict batch: `model(**batch)`; with a `loss_fn`, the "labels" entry is
      held back from the model and passed to `loss_fn(output, labels)`;
      without one, the loss is `output.loss` or `output["loss"]`, or the sum
      of a dict of scalar losses.
    - an `(inputs, targets)` pair: `loss_fn(model(inputs), targets)`; without a
      loss_fn, (images, target dicts) go to `model(images, targets)` (detection).

    An output that is not a tensor (a ModelOutput, a tuple) reaches loss_fn
    through OutputReader; `notes` collects what it says once about them.
    """
    notes = [] if notes is None else notes
    if validation and task.stack is not None and task.stack.val_step is not None:
        return task.stack.val_step
    if task.step_fn is not None:
        return task.step_fn
    raw_loss = task.loss_fn
    loss_fn = None if raw_loss is None else OutputReader(raw_loss, notes)
    tensor = torch.Tensor

    def compute(model: nn.Module, batch: Any) -> Any:
        # Called for every batch: pairs first, the slow Mapping ABC check second.
        if isinstance(batch, tuple | list) and len(batch) == 2:
            if loss_fn is None:
                if is_detection_batch(batch):
                    note(notes, "batches are (images, target dicts): model(images, targets)")
                    images, targets = batch
                    out = model(list(images), list(targets))
                    if not model.training and isinstance(out, list) and out:
                        raise SpecError(_PREDICTIONS.format(n=len(out)))
                    return loss_from_output(out, notes)
                if isinstance(batch[1], Mapping):  # the default collate stacked target dicts
                    raise SpecError(_STACKED_TARGETS.format(keys=keys_of(batch[1])))
                raise SpecError(
                    "batches are (inputs, targets) pairs but build returned no loss_fn: "
                    "return (model, train_loader, loss_fn), or a step_fn(model, batch) -> loss "
                    "for a model that takes the targets itself"
                )
            inputs, targets = batch
            out = model(inputs)
            # One type check a step (a forward costs far more): tensors go straight to loss_fn.
            if type(out) is tensor:
                return raw_loss(out, targets)  # type: ignore[misc]
            return loss_fn(out, targets)
        if isinstance(batch, Mapping):
            if loss_fn is None:
                return loss_from_output(model(**batch), notes, batch)
            if "labels" not in batch:
                raise SpecError(
                    f"dict batches need a 'labels' entry for loss_fn (keys: {keys_of(batch)}): "
                    f"name the targets 'labels', or {dict_step_fn(batch)}"
                )
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            out = model(**inputs)
            if type(out) is tensor:
                return raw_loss(out, batch["labels"])  # type: ignore[misc]
            return loss_fn(out, batch["labels"])
        if batch is None:  # a step_fn cannot skip a batch: the fix is where None came from
            raise SpecError(
                "a batch is None: a collate_fn that drops bad samples returned None for a whole "
                "batch? filter them in the dataset, or return the batch without them"
            )
        raise SpecError(
            f"a batch is {_describe(batch)}: lrfind takes (inputs, targets) pairs or dicts; "
            "for anything else return a step_fn(model, batch) -> loss"
        )

    return compute


def loss_from_output(
    out: Any, notes: list[str] | None = None, batch: Mapping[Any, Any] | None = None
) -> Any:
    """The loss a model returned itself (Hugging Face style; a dict of losses), or a clear error.

    `batch`, the dict the model was called with, names its keys when no loss came back.
    """
    loss = getattr(out, "loss", None)
    if loss is None and isinstance(out, Mapping):
        loss = out.get("loss")
        if loss is None:  # detection and segmentation models: a dict of scalar losses
            loss = summed_losses(out, [] if notes is None else notes)
    if loss is None and isinstance(out, torch.Tensor) and out.numel() == 1:
        loss = out
    if loss is None and isinstance(out, tuple | list) and out and _scalar(out[0]):
        # transformers with return_dict=False: (loss, logits, ...) when labels were given.
        note(notes, "the model returns a tuple: its first item, a scalar, is the loss")
        loss = out[0]
    if loss is None:
        keys = ""
        if batch is not None:
            why = "; a transformers model computes its loss from 'labels'"
            keys = f" (batch keys: {keys_of(batch)}{'' if 'labels' in batch else why})"
        raise SpecError(
            f"the model returned {_describe(out)} with no loss{keys}: give build a loss_fn, "
            "or make the model return an output with .loss"
        )
    return loss


def _scalar(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and x.dim() == 0 and x.is_floating_point()


def check_loss(loss: Any) -> None:
    """Raise SpecError unless `loss` is a differentiable scalar tensor."""
    if not isinstance(loss, torch.Tensor):
        raise SpecError(
            f"the loss is {_describe(loss)}, not a tensor: return the loss tensor itself"
        )
    if loss.numel() != 1:
        raise SpecError(
            f"the loss has shape {list(loss.shape)}, not a scalar: reduce it "
            "(e.g. reduction='mean' or loss.mean())"
        )
    if loss.is_complex():  # backward() needs a real scalar: torch's words name no fix
        raise SpecError(
            f"the loss is a {loss.dtype} number, not a real one: a loss to minimise is real; "
            "return a real part or a magnitude (loss.abs(), or (pred - y).abs().pow(2).mean())"
        )
    if not loss.requires_grad:
        raise SpecError(
            "the loss does not require grad: is the output detached (.item(), .detach(), "
            "torch.no_grad) or are all used parameters frozen?"
        )


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {list(value.shape)}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


# The keys datasets give a model's inputs and its targets (torchvision, Hugging Face, ...).
_INPUT_KEYS = ("pixel_values", "image", "images", "img", "input", "inputs", "x", "input_ids")
_TARGET_KEYS = ("labels", "label", "target", "targets", "y", "class", "classes")


def dict_step_fn(batch: Mapping[Any, Any]) -> str:
    """The fix for a dict batch the model cannot take as keywords: a step_fn, written out
    with the batch's own keys where they are the usual ones."""
    given = [k for k in _INPUT_KEYS if k in batch][:1] + [k for k in _TARGET_KEYS if k in batch][:1]
    if len(given) < 2:
        return "return a step_fn(model, batch) -> loss that unpacks the batch"
    return (
        "return a step_fn, e.g. step_fn=lambda model, batch: "
        f"loss_fn(model(batch[{given[0]!r}]), batch[{given[1]!r}])"
    )


def several_inputs(text: str, batch: Any) -> str | None:
    """The fix when (inputs, targets) batches carry several inputs, a tuple that lrfind passes
    to forward as one argument, and forward(x1, x2) wants them apart; None otherwise."""
    pair = isinstance(batch, tuple | list) and len(batch) == 2
    if not pair or not isinstance(batch[0], tuple | list) or "positional argument" not in text:
        return None
    return (
        f"lrfind calls model(inputs) on (inputs, targets) batches, and here inputs is a "
        f"{type(batch[0]).__name__} of {len(batch[0])}, which forward takes apart "
        f"({text.splitlines()[0]}): return a step_fn, e.g. "
        "step_fn=lambda model, batch: loss_fn(model(*batch[0]), batch[1])"
    )

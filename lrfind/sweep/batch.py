"""From one batch to one scalar loss, for every batch form of the build contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import SpecError
from lrfind.sweep.task import Task

StepLoss = Callable[[nn.Module, Any], Any]


def step_loss(task: Task) -> StepLoss:
    """Return `f(model, batch) -> loss` for the task.

    - `step_fn` given: it is used as is.
    - a dict batch: `model(**batch)`; with a `loss_fn`, the "labels" entry is
      held back from the model and passed to `loss_fn(output, labels)`;
      without one, the loss is `output.loss` or `output["loss"]`.
    - an `(inputs, targets)` pair: `loss_fn(model(inputs), targets)`.
    """
    if task.step_fn is not None:
        return task.step_fn
    loss_fn = task.loss_fn

    def compute(model: nn.Module, batch: Any) -> Any:
        # Called for every batch: pairs first, the slow Mapping ABC check second.
        if isinstance(batch, tuple | list) and len(batch) == 2:
            if loss_fn is None:
                raise SpecError(
                    "batches are (inputs, targets) pairs but build returned no loss_fn: "
                    "return (model, train_loader, loss_fn)"
                )
            inputs, targets = batch
            return loss_fn(model(inputs), targets)
        if isinstance(batch, Mapping):
            if loss_fn is None:
                return loss_from_output(model(**batch))
            if "labels" not in batch:
                raise SpecError(
                    f"dict batches need a 'labels' entry for loss_fn (keys: {_keys(batch)}); "
                    "or return no loss_fn and let the model compute .loss"
                )
            inputs = {k: v for k, v in batch.items() if k != "labels"}
            return loss_fn(model(**inputs), batch["labels"])
        raise SpecError(
            f"a batch is {_describe(batch)}: lrfind takes (inputs, targets) pairs or dicts; "
            "for anything else return a step_fn(model, batch) -> loss"
        )

    return compute


def loss_from_output(out: Any) -> Any:
    """The loss a model returned itself (Hugging Face style), or a clear error."""
    loss = getattr(out, "loss", None)
    if loss is None and isinstance(out, Mapping):
        loss = out.get("loss")
    if loss is None and isinstance(out, torch.Tensor) and out.numel() == 1:
        loss = out
    if loss is None:
        raise SpecError(
            f"the model returned {_describe(out)} with no loss: give build a loss_fn, "
            "or make the model return an output with .loss"
        )
    return loss


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


def _keys(batch: Mapping[Any, Any]) -> str:
    return ", ".join(map(str, batch)) or "none"

"""Model outputs that are not a tensor: what the loss_fn gets, and losses a model returns itself.

- a Hugging Face ModelOutput with logits: its .logits go to the loss_fn;
- a dict of scalar tensors (torchvision's detection models): the losses,
  summed into the loss;
- a tuple (GoogLeNet's aux heads) or a dict of maps (segmentation) that the
  loss_fn rejects: a SpecError that shows the step_fn to write.

How an output type is read is decided at its first step and remembered, so
later steps pay one dictionary lookup (and tensors, the common case, not even that).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping
from typing import Any

import torch

from lrfind.errors import SpecError
from lrfind.sweep.adapters.base import keys_of
from lrfind.sweep.adapters.huggingface import is_model_output


class OutputReader:
    """Calls `loss_fn(output, targets)` for outputs of any type; says once how it read them."""

    def __init__(self, loss_fn: Callable[..., Any], notes: list[str]) -> None:
        self.loss_fn = loss_fn
        self.notes = notes
        self.readers: dict[type, Callable[[Any], Any]] = {}

    def __call__(self, out: Any, targets: Any) -> Any:
        read = self.readers.get(type(out))
        if read is None:
            return self._first(out, targets)
        return self.loss_fn(read(out), targets)

    def _first(self, out: Any, targets: Any) -> Any:
        """The first output of a type: choose how to read it; check that loss_fn takes it."""
        read: Callable[[Any], Any] = _same
        if type(out).__module__ == "numpy":  # torch's losses then fail in many ways
            raise SpecError(
                f"the model's forward returned a numpy {type(out).__name__}, not a tensor: keep "
                "forward in torch (a numpy result has no gradient to train on)"
            )
        if is_model_output(out) and isinstance(getattr(out, "logits", None), torch.Tensor):
            read = operator.attrgetter("logits")
            note(self.notes, f"the model returns a {type(out).__name__}: its .logits go to loss_fn")
        try:
            loss = self.loss_fn(read(out), targets)
        except (TypeError, AttributeError) as e:
            # torch's losses take tensors: a tuple or a dict is the likely cause (the
            # classification losses raise TypeError, MSELoss, L1Loss, HuberLoss AttributeError:
            # "'tuple' object has no attribute 'size'").
            if read is _same and isinstance(out, Mapping):
                raise SpecError(_dict_message(out, e)) from e
            if read is _same and isinstance(out, tuple | list):
                raise SpecError(_tuple_message(out, e)) from e
            if read is _same and dataclasses.is_dataclass(out):  # fields, like a namedtuple's
                raise SpecError(
                    _tuple_message(out, e, [f.name for f in dataclasses.fields(out)])
                ) from e
            raise
        self.readers[type(out)] = read
        return loss


def summed_losses(out: Any, notes: list[str]) -> Any:
    """The sum of a dict of scalar tensors (a detection model's losses), else None.

    Metrics beside the losses are left out: with keys named "loss..." only those count (as
    mmdet's parse_losses sums them), else only the entries with a gradient (a detached
    accuracy is no loss; under no_grad, in the validation pass, none has one)."""
    if not isinstance(out, Mapping) or not out:
        return None
    if not all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in out.values()):
        return None
    keys = [k for k in out if "loss" in str(k).lower()]
    if not keys and torch.is_grad_enabled():
        keys = [k for k, v in out.items() if v.requires_grad]
    keys = keys or list(out)
    left = [k for k in out if k not in keys]
    said = f"; left out {keys_of(left)} (not {'a loss' if len(left) == 1 else 'losses'})"
    said = said if left else ""
    if len(keys) == 1:
        note(notes, f"the model returns a dict: its loss is {keys[0]}{said}")
    else:
        note(
            notes, f"the model returns a dict of {len(keys)} losses ({keys_of(keys)}): summed{said}"
        )
    total = out[keys[0]]
    for key in keys[1:]:
        total = total + out[key]
    return total


def is_detection_batch(batch: Any) -> bool:
    """(images, targets) as torchvision's detection models take them: targets a list of dicts."""
    images, targets = batch
    return (
        isinstance(targets, tuple | list)
        and len(targets) > 0
        and isinstance(targets[0], Mapping)
        and isinstance(images, torch.Tensor | tuple | list)
    )


def note(notes: list[str], text: str) -> None:
    """Add `text` once."""
    if text not in notes:
        notes.append(text)


def _same(out: Any) -> Any:
    return out


def _dict_message(out: Mapping[Any, Any], error: Exception) -> str:
    parts = ", ".join(f"{k!r}: {_describe(v)}" for k, v in list(out.items())[:4])
    name = type(out).__name__
    article = "an" if name[:1].lower() in "aeiou" else "a"
    what = f"the model returns {article} {name} ({parts}), which loss_fn rejects"
    if all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in out.values()):
        return f"{what}: these look like losses; return no loss_fn, and lrfind sums them"
    key = next(iter(out), "out")
    return (
        f"{what} ({type(error).__name__}): return a step_fn, e.g. "
        f"step_fn=lambda model, batch: loss_fn(model(batch[0])[{key!r}], batch[1])"
    )


def _tuple_message(out: Any, error: Exception, fields: Any = None) -> str:
    fields = getattr(out, "_fields", None) if fields is None else fields
    what = f"{type(out).__name__} ({', '.join(fields)})" if fields else f"a {type(out).__name__}"
    first = f".{fields[0]}" if fields else "[0]"
    return (
        f"the model returns {what}, which loss_fn rejects ({type(error).__name__}): return a "
        f"step_fn, e.g. step_fn=lambda model, batch: loss_fn(model(batch[0]){first}, batch[1])"
    )


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"shape {list(value.shape)}" if value.dim() else "a scalar"
    return type(value).__name__

"""Targets a loss cannot take, named with their fix: shapes, class ids, ranges.

torch raises for most of them (BCE's shape check, cross-entropy's out-of-bounds
ids) and `loss_inputs` words the fix after its message; MSE, L1 and Huber only
warn of a shape mismatch, which `broadcast_watch` makes an error on the first
step. Nothing here runs inside the per-step loop.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lrfind.errors import SpecError


@contextmanager
def broadcast_watch() -> Iterator[None]:
    """Around the first loss: SpecError when the loss broadcast its target against the output.

    torch only warns ("Using a target size ... different to the input size") when MSE, L1 or
    Huber get a (N,) target for a (N, 1) output, and then compares every output with every
    target: the curve, and any LR read off it, would be noise. The warning is caught where it
    is shown (as logging.captureWarnings does), so the user's warning filters stay as they are
    and one the user ignores stays ignored.
    """
    seen: list[tuple[str, ...]] = []
    shown = warnings.showwarning

    def show(message: Any, category: Any, filename: str, lineno: int, *rest: Any) -> None:
        sizes = SIZES.search(str(message))
        if sizes is None:
            shown(message, category, filename, lineno, *rest)
        else:
            seen.append(sizes.groups())

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown
    if seen:
        raise SpecError(
            f"the loss broadcast the target against the output (torch warns of it: every "
            f"output is compared with every target); {shape_fix(*seen[0])}"
        )


def loss_inputs(text: str) -> str:
    """The fix ("; ...", or "") for torch's error text when a loss got targets it cannot
    take: the shape, the class ids, the range."""
    sizes = SIZES.search(text)
    if sizes:
        return "; " + shape_fix(*sizes.groups(), unsqueeze="y.float().unsqueeze(1)")  # BCE's
    if _SEQUENCE.search(text):  # (N, T, C) scores for (N, T) ids: a token classifier's
        return (
            "; cross-entropy takes the class scores in dim 1: for (N, T, C) outputs, "
            "loss_fn(out.flatten(0, 1), y.flatten()) in a step_fn, or leave out loss_fn when "
            "the model computes its own loss from labels"
        )
    if "multi-target not supported" in text:  # (N, 1) class ids
        return (
            "; cross-entropy takes one class id per sample, targets of shape (N,): y.squeeze(1) "
            "(or y.view(-1)); for one-hot rows, y.argmax(1)"
        )
    bounds = _OUT_OF_BOUNDS.search(text)
    if bounds and int(bounds.group(1)) < 0:
        return (
            f"; class id {bounds.group(1)}: cross-entropy skips only its ignore_index (-100 by "
            f"default): mark padding -100, or pass ignore_index={bounds.group(1)}"
        )
    if bounds:
        return (
            "; a class id is not below the number of class scores the model outputs: ids run "
            "0 to C-1 for C outputs (ids from 1: subtract 1; else widen the last layer to the "
            "number of classes; one output for two classes: BCEWithLogitsLoss)"
        )
    if "elements of input should be between 0 and 1" in text:
        return (
            "; BCELoss takes probabilities: apply torch.sigmoid to the output, or (stabler) use "
            "BCEWithLogitsLoss on the raw output"
        )
    if "can't be cast to the desired output type" in text:  # BCE with integer targets
        return "; an integer tensor met a float result: make float targets of them (y.float())"
    if "elements of target should be between 0 and 1" in text:
        return "; BCE targets are 0/1 or probabilities: for class ids use CrossEntropyLoss"
    return ""


#: torch's words for a loss whose target and output differ in shape, raised (BCE) or warned
#: (MSE, L1, Huber: "Using a target size ... different to the input size").
SIZES = re.compile(
    r"target size \(torch\.Size\((\[[\d, ]*\])\)\).*?input size \(torch\.Size\((\[[\d, ]*\])\)\)",
    re.IGNORECASE | re.DOTALL,
)
_SEQUENCE = re.compile(r"Expected target size \[\d+, \d+\], got \[\d+, \d+\]")
_OUT_OF_BOUNDS = re.compile(r"Target (-?\d+) is out of bounds")


def shape_fix(target: str, output: str, unsqueeze: str = "y.unsqueeze(1)") -> str:
    """The fix for a target of shape `target` against an output of shape `output` ("[32, 1]")."""
    t, o = _dims(target), _dims(output)
    said = f"the target is {_shape(t)}, the output {_shape(o)}"
    if o == [*t, 1]:
        return f"{said}: give the target the output's shape ({unsqueeze}), or squeeze the output"
    if t == [*o, 1]:
        return f"{said}: squeeze the target (y.squeeze(1)) to the output's shape"
    return f"{said}: make the model's output and the target the same shape"


def _dims(text: str) -> list[int]:
    return [int(d) for d in text.strip("[]").split(",") if d.strip()]


def _shape(dims: list[int]) -> str:
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(map(str, dims))})"

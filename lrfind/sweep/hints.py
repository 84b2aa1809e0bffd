"""Fixes lrfind can suggest when the user's code fails inside the sweep."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import exception_text
from lrfind.sweep.targets import loss_inputs

_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def hint(error: Exception, batch: Any, model: nn.Module | None = None) -> str:
    """A fix to suggest for failures whose cause lrfind can see."""
    if isinstance(error, _OOM):
        return "; lower the batch size (or use --accumulate, --amp bf16)"
    text = exception_text(error)
    # Before the integer check below: int32 class ids (numpy's, pandas') want y.long().
    if "expected scalar type Long" in text or "target dtype to be Long" in text.replace("'", ""):
        return "; cross-entropy takes class indices as int64: targets as y.long()"
    if "dtype" in text and any(_DTYPE_NAMES.get(t, "\0") in text for t in _dtypes(batch)):
        return "; the batch holds integer tensors: convert inputs (and regression targets) to float"
    if "type" in text and model is not None:
        floats = _float_mismatch(batch, model)
        if floats:
            return floats
    if "must be Tensor, not" in text or "expected Tensor as element" in text:
        return _not_tensors(batch)
    if isinstance(error, AttributeError | TypeError) and "'NoneType' object" in text:
        return "; did forward() (or step_fn) return None? a missing return is the usual cause"
    return loss_inputs(text)


# How torch's error messages name integer dtypes ("... got Long and Float").
_DTYPE_NAMES = {
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
}


def leaves(batch: Any) -> Iterator[Any]:
    """What a batch holds once its tuples, lists and mappings are opened."""
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, tuple | list):
        for item in batch:
            yield from leaves(item)
    else:
        yield batch


def _dtypes(batch: Any) -> set[torch.dtype]:
    return {leaf.dtype for leaf in leaves(batch) if isinstance(leaf, torch.Tensor)}


def _not_tensors(batch: Any) -> str:
    """What in the batch is no tensor, and how to make it one: a batch no collate built."""
    kinds = {_kind(leaf) for leaf in leaves(batch)}
    if "str" in kinds:
        return (
            "; the batch holds strings (text not tokenized): tokenize in the Dataset or a "
            "collate_fn, so that batches hold tensors"
        )
    if "numpy" in kinds:
        return (
            "; the batch holds numpy arrays, not tensors: convert them (torch.from_numpy(x)), "
            "or batch them with a DataLoader, whose default collate converts them"
        )
    if "number" in kinds:
        return (
            "; the batch holds Python lists of numbers, not tensors: batch them with a "
            "DataLoader or torch.tensor(...) (a Hugging Face dataset: ds.with_format('torch'))"
        )
    return ""


def _kind(leaf: Any) -> str | None:
    if isinstance(leaf, str):
        return "str"
    if isinstance(leaf, int | float | bool):
        return "number"
    return "numpy" if type(leaf).__module__ == "numpy" else None


def _float_mismatch(batch: Any, model: nn.Module) -> str:
    """A batch of float64 for a float32 model (numpy's default), or float32 for a half one."""
    params = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    floats = {t for t in _dtypes(batch) if t.is_floating_point}
    if params is None or not floats - {params}:
        return ""
    have = "/".join(sorted(map(_name, floats)))
    if params in (torch.float16, torch.bfloat16):
        amp = "bf16" if params == torch.bfloat16 else "fp16"
        return (
            f"; the model is {_name(params)}, the batch {have}: convert the inputs to "
            f"{_name(params)}, or keep the model float32 and pass --amp {amp}"
        )
    return (
        f"; the batch is {have}, the model {_name(params)}: convert the batch "
        f"(x.to(torch.{_name(params)}); torch.from_numpy keeps numpy's float64) or the model"
    )


def _name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")

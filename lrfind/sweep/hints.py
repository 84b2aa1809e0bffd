"""Fixes lrfind can suggest when the user's code fails inside the sweep."""

from __future__ import annotations

from typing import Any

import torch

from lrfind.errors import exception_text

_OOM = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)


def hint(error: Exception, batch: Any) -> str:
    """A fix to suggest for failures whose cause lrfind can see."""
    if isinstance(error, _OOM):
        return "; lower the batch size (or use --accumulate, --amp bf16)"
    text = exception_text(error)
    if "dtype" in text and any(_DTYPE_NAMES.get(t, "\0") in text for t in _dtypes(batch)):
        return "; the batch holds integer tensors: convert inputs (and regression targets) to float"
    if "expected scalar type Long" in text or "target dtype to be Long" in text.replace("'", ""):
        return "; cross-entropy takes class indices: targets as integers (y.long()), not floats"
    if isinstance(error, AttributeError | TypeError) and "'NoneType' object" in text:
        return "; did forward() (or step_fn) return None? a missing return is the usual cause"
    return ""


# How torch's error messages name integer dtypes ("... got Long and Float").
_DTYPE_NAMES = {
    torch.int64: "Long",
    torch.int32: "Int",
    torch.int16: "Short",
    torch.int8: "Char",
    torch.uint8: "Byte",
}


def _dtypes(batch: Any) -> set[torch.dtype]:
    if isinstance(batch, torch.Tensor):
        return {batch.dtype}
    if isinstance(batch, dict):
        return set().union(*map(_dtypes, batch.values()))
    if isinstance(batch, tuple | list):
        return set().union(*map(_dtypes, batch))
    return set()

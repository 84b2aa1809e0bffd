"""Reading a training run's loss log: CSV with a header, or JSON in its obvious forms.

Accepted (a JSON null or "nan" is a NaN loss; an empty validation cell is "not logged"):
- CSV with a header: `step` (or `global_step`, `_step`) or `epoch`, optional (without
  one the rows are steps 1, 2, ...); `train_loss`; optional `val_loss`;
  a header-less single column of numbers is read as the train loss;
- JSON: a list of numbers (train loss); `{"train": [...], "val": [...]}`; or a list of
  records `[{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0}, ...]`.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrfind.errors import UsageError
from lrfind.output.inputs import parse_json, read_text

TRAIN_KEYS = ("train_loss", "train", "loss", "training_loss")
VAL_KEYS = ("val_loss", "val", "valid_loss", "validation_loss", "eval_loss")
X_KEYS = ("step", "global_step", "_step", "epoch", "iteration", "iter")

EXPECTED = (
    "expected a CSV with a header (step or epoch, train_loss, optional val_loss), "
    'a JSON list of losses, {"train": [...], "val": [...]}, '
    'or a JSON list of records like {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0}'
)


@dataclass(frozen=True)
class LossLog:
    """A run's losses: `train` (and `val`, NaN where not logged) at each `x`."""

    x: list[float]
    x_label: str
    train: list[float]
    val: list[float] | None


def load_losses(path: str | Path) -> LossLog:
    """Read a loss log; UsageError naming the file and the accepted forms when it is not one."""
    text = read_text(path, EXPECTED)
    stripped = text.lstrip()
    try:
        is_json = stripped.startswith(("[", "{"))
        log = _from_json(parse_json(text, path, EXPECTED)) if is_json else _from_csv(text)
    except csv.Error as e:  # e.g. a cell over csv's field size limit
        raise UsageError(f"{path}: not a CSV lrfind can read ({e}); {EXPECTED}") from None
    except (ValueError, TypeError, KeyError, OverflowError) as e:
        detail = str(e).strip("'\"")
        raise UsageError(f"{path}: {detail + '; ' if detail else ''}{EXPECTED}") from None
    if not log.train:
        raise UsageError(f"{path}: no losses in it; {EXPECTED}")
    return log


def _from_json(data: Any) -> LossLog:
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = {k: [r.get(k) for r in data] for k in {k for r in data for k in r}}
        return _from_columns(columns)
    if isinstance(data, list):
        return _from_columns({"train_loss": data})
    if isinstance(data, dict):
        return _from_columns(data)
    raise ValueError("not a list or an object")


def _from_csv(text: str) -> LossLog:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError("empty")
    if len(rows[0]) == 1 and _is_number(rows[0][0]):  # a bare column of losses
        return _from_columns({"train_loss": [r[0] for r in rows]})
    header = [h.strip().lower() for h in rows[0]]
    if any(len(r) != len(header) for r in rows[1:]):
        raise ValueError(f"rows must have {len(header)} cells like the header")
    return _from_columns({h: [r[i] for r in rows[1:]] for i, h in enumerate(header)})


def _from_columns(columns: dict[str, Any]) -> LossLog:
    lower = {str(k).strip().lower(): v for k, v in columns.items()}
    train_key = next((k for k in TRAIN_KEYS if k in lower), None)
    if train_key is None:
        raise KeyError(f"no train loss column (looked for {', '.join(TRAIN_KEYS)})")
    train = _numbers(lower[train_key], train_key, allow_missing=False)
    val_key = next((k for k in VAL_KEYS if k in lower), None)
    val = None if val_key is None else _numbers(lower[val_key], val_key, allow_missing=True)
    x_key = next((k for k in X_KEYS if k in lower), None)
    x = [float(i) for i in range(1, len(train) + 1)]  # no column: the rows are steps 1, 2, ...
    if x_key is not None:
        x = _numbers(lower[x_key], x_key, allow_missing=False)
    if len(x) != len(train) or (val is not None and len(val) != len(train)):
        raise ValueError("the columns have different lengths")
    label = "step" if x_key in (None, "global_step", "_step") else x_key  # as the text says it
    return LossLog(x, label, train, val)


def _numbers(values: Any, name: str, *, allow_missing: bool) -> list[float]:
    if not isinstance(values, list):
        raise TypeError(f"{name} is not a list")
    out = []
    for i, v in enumerate(values):
        if v is None:  # JSON has no NaN: writers (lrfind's report too) put null
            out.append(math.nan)
        elif isinstance(v, str) and not v.strip():
            if not allow_missing:
                raise ValueError(f"{name} has no value at row {i + 1}")
            out.append(math.nan)
        elif isinstance(v, bool) or not (isinstance(v, int | float) or _is_number(v)):
            raise ValueError(f"{name} row {i + 1} is {v!r}, not a number")
        else:
            out.append(float(v))
    return out


def _is_number(s: Any) -> bool:
    try:
        float(s)
    except (TypeError, ValueError):
        return False
    return True

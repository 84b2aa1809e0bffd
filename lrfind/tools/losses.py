"""Reading a training run's loss log: CSV with a header, or JSON in its obvious forms.

Accepted:
- CSV with a header: a step column (`step`, `global_step`, `_step`, `epoch`, ...;
  without one the rows are steps 1, 2, ...), a train loss column (`train_loss`,
  `loss`, Lightning's `train_loss_step`, W&B's `train/loss`, ...), an optional
  validation loss column (`val_loss`, `eval_loss`, `val/loss`, ...). An empty
  cell is "not logged in that row", so the sparse rows of Lightning's
  CSVLogger `metrics.csv` and of W&B exports read as they were logged. A
  TensorBoard export (`Wall time,Step,Value`) is read as the train loss.
  A header-less single column of numbers is read as the train loss.
- JSON: a list of losses; `{"train": [...], "val": [...]}` (null: a NaN loss,
  as lrfind's report writes one); a list of records `[{"epoch": 1,
  "train_loss": 0.9, "val_loss": 1.0}, ...]`, where a missing key or null is
  "not logged"; a Hugging Face `trainer_state.json` (its `log_history`).

Rows with the same step are one point (a train record and an eval record logged at
step 50), points are in step order (a resumed run's later value wins), and a
validation loss logged where no train loss was belongs to the last train point
before it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrfind.errors import UsageError
from lrfind.output.inputs import parse_json, read_text

# In order of preference when two are logged equally often.
TRAIN_KEYS = (
    "train_loss", "train", "loss", "training_loss", "train_loss_step", "train/loss",
    "loss_step", "train_loss_epoch", "loss_epoch",
)  # fmt: skip
VAL_KEYS = (
    "val_loss", "val", "valid_loss", "validation_loss", "eval_loss", "val/loss", "eval/loss",
    "val_loss_epoch", "validation/loss",
)  # fmt: skip
X_KEYS = ("step", "global_step", "_step", "train/global_step", "epoch", "iteration", "iter")
TENSORBOARD = {"wall time", "step", "value"}  # its CSV export: one tag, one column of values

EXPECTED = (
    "expected a CSV with a header (a step or epoch column, train_loss or loss, optional "
    'val_loss), a JSON list of losses, {"train": [...], "val": [...]}, a JSON list of '
    'records like {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0}, or a Hugging Face '
    "trainer_state.json"
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
    if isinstance(data, dict) and isinstance(data.get("log_history"), list):
        data = data["log_history"]  # a Hugging Face trainer_state.json
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return _from_records(data, lambda i: f"record {i + 1}")
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
    header = rows[0]
    if any(len(r) != len(header) for r in rows[1:]):
        raise ValueError(f"rows must have {len(header)} cells like the header")
    records = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    return _from_records(records, lambda i: f"line {i + 2}")


def _key(name: Any) -> str:
    """A column's name as matched: lower case, W&B's "run-1 - train/loss" as "train/loss"."""
    return str(name).strip().lower().rsplit(" - ", 1)[-1]


def _logged(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _from_records(records: list[dict[str, Any]], where: Callable[[int], str]) -> LossLog:
    """Sparse records (a key missing, null or empty: not logged) as one point per step."""
    rows = [{_key(k): v for k, v in r.items() if _logged(v)} for r in records]
    present = {k for r in rows for k in r}
    train_key = _most_logged(TRAIN_KEYS, rows)
    if train_key is None and "value" in present and present <= TENSORBOARD:
        train_key = "value"
    if train_key is None:
        named = [k for k in TRAIN_KEYS if any(_key(c) == k for r in records for c in r)]
        if named:  # the column is there, with nothing in it
            raise ValueError(f"{named[0]} has no values")
        raise KeyError(f"no train loss column (looked for {', '.join(TRAIN_KEYS)})")
    val_key = _most_logged(VAL_KEYS, rows)
    x_key = next((k for k in X_KEYS if k in present), None)
    points: dict[float, list[float]] = {}  # step -> [step, train, val] (NaN: not logged)
    for i, r in enumerate(rows):
        if train_key not in r and (val_key is None or val_key not in r):
            continue  # a record of other things (HF's run summary, a learning-rate row)
        if x_key is None:  # no step column: each train record is the next step
            x = float(sum(1 for p in points.values() if not math.isnan(p[1])) + 1)
            x = x if train_key in r else x - 0.5  # validation: after the last train step
        elif x_key not in r:
            raise ValueError(f"{x_key} has no value in {where(i)}")
        else:
            x = _number(r[x_key], x_key, where(i))
        point = points.setdefault(x, [x, math.nan, math.nan])
        if train_key in r:
            point[1] = _number(r[train_key], train_key, where(i))
        if val_key is not None and val_key in r:
            point[2] = _number(r[val_key], val_key, where(i))
    return _merged(sorted(points.values()), x_key, val_key is not None)


def _merged(points: list[list[float]], x_key: str | None, has_val: bool) -> LossLog:
    """Points in step order; a validation-only point joins the train point before it."""
    kept: list[list[float]] = []
    pending = math.nan  # a validation loss logged before the first train loss
    for x, train, val in points:
        if not math.isnan(train):
            kept.append([x, train, val if math.isnan(pending) or not math.isnan(val) else pending])
            pending = math.nan
        elif kept:
            kept[-1][2] = val
        else:
            pending = val
    label = "step" if x_key is None or "step" in x_key else x_key  # as the text says it
    val = [p[2] for p in kept] if has_val else None
    return LossLog([p[0] for p in kept], label, [p[1] for p in kept], val)


def _most_logged(keys: tuple[str, ...], rows: list[dict[str, Any]]) -> str | None:
    """The key logged in the most rows (the first of `keys` on a tie); None if none is."""
    counts = {k: sum(k in r for r in rows) for k in keys}
    best = max(keys, key=lambda k: counts[k])
    return best if counts[best] else None


def _from_columns(columns: dict[str, Any]) -> LossLog:
    """Aligned lists, e.g. {"train": [...], "val": [...]}; null is a NaN loss here."""
    lower = {_key(k): v for k, v in columns.items()}
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
    label = "step" if x_key is None or "step" in x_key else x_key
    return LossLog(x, label, train, val)


def _number(value: Any, name: str, where: str) -> float:
    if value is None:  # JSON has no NaN: writers (lrfind's report too) put null
        return math.nan
    if isinstance(value, bool) or not (isinstance(value, int | float) or _is_number(value)):
        raise ValueError(f"{name} in {where} is {value!r}, not a number")
    return float(value)


def _numbers(values: Any, name: str, *, allow_missing: bool) -> list[float]:
    if not isinstance(values, list):
        raise TypeError(f"{name} is not a list")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, str) and not v.strip():
            if not allow_missing:
                raise ValueError(f"{name} has no value at row {i + 1}")
            out.append(math.nan)
        else:
            out.append(_number(v, name, f"row {i + 1}"))
    return out


def _is_number(s: Any) -> bool:
    try:
        float(s)
    except (TypeError, ValueError):
        return False
    return True

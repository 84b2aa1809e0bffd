"""Reading a training run's loss log: CSV with a header, or JSON in its obvious forms.

Accepted:
- CSV with a header (separated by ',', a tab or ';'): a step column (`step`,
  `global_step`, `_step`, `epoch`, ...; without one the rows are steps 1, 2, ...), a
  train loss column (`train_loss`, `loss`, Lightning's `train_loss_step`, W&B's
  `train/loss`, the Hugging Face notebook table's `Training Loss`, ...), an optional
  validation loss column (`val_loss`, `eval_loss`, `val/loss`, ...). Names match in any
  case, with spaces or '-' for '_'. An empty cell (or Keras' `NA`) is "not logged in
  that row", so the sparse rows of Lightning's CSVLogger `metrics.csv` and of W&B
  exports read as they were logged; a `nan` is a NaN loss. A TensorBoard export
  (`Wall time,Step,Value`, or its JSON `[[wall time, step, value], ...]`) is read as
  the train loss. A header-less single column of numbers is read as the train loss.
- JSON: a list of losses; `{"train": [...], "val": [...]}` (null: a NaN train loss, as
  lrfind's report writes one; a val not logged); a list of records `[{"epoch": 1,
  "train_loss": 0.9, "val_loss": 1.0}, ...]`, where a missing key or null is
  "not logged" (a NaN is a NaN loss); a Hugging Face `trainer_state.json` (its
  `log_history`).

In every form, rows with the same step are one point (a train record and an eval record
logged at step 50), points are in step order (a resumed run's later value wins), and a
validation loss logged where no train loss was belongs to the last train point before it.
Inside, None is "not logged" and NaN a NaN loss until the LossLog, whose val has NaN
for both.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrfind.errors import UsageError
from lrfind.output.inputs import parse_json, read_text
from lrfind.tools.loss_columns import (
    NOT_LOGGED,
    TENSORBOARD,
    TRAIN_KEYS,
    VAL_KEYS,
    X_KEYS,
    FixableLog,
    check_one_run,
    column_key,
    csv_rows,
    is_number,
    no_train_column,
)

__all__ = ["TRAIN_KEYS", "VAL_KEYS", "X_KEYS", "LossLog", "load_losses"]

EXPECTED = (
    "expected a CSV with a header (a step or epoch column, train_loss or loss, optional "
    'val_loss), a JSON list of losses, {"train": [...], "val": [...]}, a JSON list of '
    'records like {"epoch": 1, "train_loss": 0.9, "val_loss": 1.0}, or a Hugging Face '
    "trainer_state.json"
)

Point = list[Any]  # [step, train, val]: a float, or None where not logged


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
    except FixableLog as e:
        raise UsageError(f"{path}: {e}") from None
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
    if isinstance(data, list) and data and all(_is_tensorboard_row(r) for r in data):
        return _from_columns({"step": [r[1] for r in data], "train_loss": [r[2] for r in data]})
    if isinstance(data, list):
        return _from_columns({"train_loss": data})
    if isinstance(data, dict):
        return _from_columns(data)
    raise ValueError("not a list or an object")


def _is_tensorboard_row(row: Any) -> bool:
    """[wall time, step, value]: a row of TensorBoard's JSON export."""
    return isinstance(row, list) and len(row) == 3 and all(_is_plain_number(v) for v in row)


def _from_csv(text: str) -> LossLog:
    rows = csv_rows(text)
    if not rows:
        raise ValueError("empty")
    if len(rows[0]) == 1 and is_number(rows[0][0]):  # a bare column of losses
        return _from_columns({"train_loss": [r[0] for r in rows]})
    header = rows[0]
    if any(len(r) != len(header) for r in rows[1:]):
        raise ValueError(f"rows must have {len(header)} cells like the header")
    check_one_run(header, [*TRAIN_KEYS, *VAL_KEYS, *X_KEYS])  # before dict() drops one
    records = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    return _from_records(records, lambda i: f"line {i + 2}")


def _logged(value: Any) -> bool:
    return value is not None and not (
        isinstance(value, str) and value.strip().lower() in NOT_LOGGED
    )


def _from_records(records: list[dict[str, Any]], where: Callable[[int], str]) -> LossLog:
    """Sparse records (a key missing, null or empty: not logged) as one point per step."""
    names = list(dict.fromkeys(k for r in records for k in r))
    rows = [{column_key(k): v for k, v in r.items() if _logged(v)} for r in records]
    present = {k for r in rows for k in r}
    train_key = _most_logged(TRAIN_KEYS, rows)
    if train_key is None and "value" in present and present <= TENSORBOARD:
        train_key = "value"
    if train_key is None:
        named = [k for k in TRAIN_KEYS if any(column_key(n) == k for n in names)]
        if named:  # the column is there, with nothing in it
            raise ValueError(f"{named[0]} has no values")
        raise no_train_column(names)
    val_key = _most_logged(VAL_KEYS, rows)
    x_key = next((k for k in X_KEYS if k in present), None)
    check_one_run(names, (train_key, val_key, x_key))
    entries: list[Point] = []
    trains = 0  # train records so far: the step of each when there is no step column
    for i, r in enumerate(rows):
        train, val = r.get(train_key), r.get(val_key) if val_key else None
        if train is None and val is None:
            continue  # a record of other things (HF's run summary, a learning-rate row)
        if x_key is None:  # validation: after the last train step
            trains += train is not None
            x = float(trains) if train is not None else trains + 0.5
        elif x_key not in r:
            raise ValueError(f"{x_key} has no value in {where(i)}")
        else:
            x = _step(r[x_key], x_key, where(i))
        at = where(i)
        entries.append([x, _logged_number(train, train_key, at), _logged_number(val, val_key, at)])
    return _merged(entries, x_key, val_key is not None)


def _merged(entries: Iterable[Point], x_key: str | None, has_val: bool) -> LossLog:
    """One point per step, in step order; a validation-only point joins the train point
    before it. A later entry's logged value replaces an earlier one's (a resumed run)."""
    by_step: dict[float, Point] = {}
    for x, train, val in entries:
        point = by_step.setdefault(x, [x, None, None])
        point[1] = point[1] if train is None else train
        point[2] = point[2] if val is None else val
    kept: list[Point] = []
    pending = None  # a validation loss logged before the first train loss
    for x, train, val in sorted(by_step.values(), key=lambda p: p[0]):
        if train is not None:  # logged: a number, NaN included
            kept.append([x, train, pending if val is None else val])
            pending = None
        elif kept:
            kept[-1][2] = val
        else:
            pending = val
    label = "step" if x_key is None or "step" in x_key else x_key  # as the text says it
    val = [math.nan if p[2] is None else p[2] for p in kept] if has_val else None
    return LossLog([p[0] for p in kept], label, [p[1] for p in kept], val)


def _most_logged(keys: tuple[str, ...], rows: list[dict[str, Any]]) -> str | None:
    """The key logged in the most rows (the first of `keys` on a tie); None if none is."""
    counts = {k: sum(k in r for r in rows) for k in keys}
    best = max(keys, key=lambda k: counts[k])
    return best if counts[best] else None


def _from_columns(columns: dict[str, Any]) -> LossLog:
    """Aligned lists, e.g. {"train": [...], "val": [...]}; a null train loss is a NaN."""
    lower = {column_key(k): v for k, v in columns.items()}
    train_key = next((k for k in TRAIN_KEYS if k in lower), None)
    if train_key is None:
        raise no_train_column(columns)
    val_key = next((k for k in VAL_KEYS if k in lower), None)
    x_key = next((k for k in X_KEYS if k in lower), None)
    check_one_run(columns, (train_key, val_key, x_key))
    train = _column(lower[train_key], train_key, lambda v, w: _number(v, train_key, w))
    n = len(train)
    val = [None] * n
    if val_key is not None:
        val = _column(lower[val_key], val_key, lambda v, w: _number(v, val_key, w), optional=True)
    x = [float(i) for i in range(1, n + 1)]  # no column: the rows are steps 1, 2, ...
    if x_key is not None:
        x = _column(lower[x_key], x_key, lambda v, w: _step(v, x_key, w))
    if len(x) != n or len(val) != n:
        raise ValueError("the columns have different lengths")
    return _merged(zip(x, train, val, strict=True), x_key, val_key is not None)


def _column(
    values: Any, name: str, read: Callable[[Any, str], float], *, optional: bool = False
) -> list[Any]:
    """A column's values read. In an optional one (val) a blank, NA or null is None, not
    logged; in the others a blank or NA is an error and null is read (a NaN loss)."""
    if not isinstance(values, list):
        raise TypeError(f"{name} is not a list")
    out: list[float | None] = []
    for i, v in enumerate(values):
        if _logged(v) or (v is None and not optional):
            out.append(read(v, f"row {i + 1}"))
        elif optional:
            out.append(None)
        else:
            raise ValueError(f"{name} has no value at row {i + 1}")
    return out


def _number(value: Any, name: str, where: str) -> float:
    if value is None:  # JSON has no NaN: writers (lrfind's report too) put null
        return math.nan
    if not (_is_plain_number(value) or (isinstance(value, str) and is_number(value))):
        raise ValueError(f"{name} in {where} is {value!r}, not a number")
    return float(value)


def _logged_number(value: Any, name: str | None, where: str) -> float | None:
    return None if value is None or name is None else _number(value, name, where)


def _step(value: Any, name: str, where: str) -> float:
    x = _number(value, name, where) if value is not None else math.nan
    if not math.isfinite(x):
        raise ValueError(f"{name} in {where} is {value!r}, not a finite step")
    return x


def _is_plain_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

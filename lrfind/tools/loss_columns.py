"""The columns of a loss log: their names as matched, a CSV's separator, and the errors
that name the columns when the train loss is not among them (or is there twice)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

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
TENSORBOARD = {"wall_time", "step", "value"}  # its CSV export: one tag, one column of values
# Cells that say "not logged in this row": empty, Keras' CSVLogger's "NA" (a metric it
# did not compute that epoch, e.g. val_loss with validation_freq=2) and the Hugging Face
# notebook table's "No log". "nan" is not one: it is written for a loss that was NaN.
NOT_LOGGED = {"", "na", "n/a", "none", "null", "no log"}
SEPARATORS = ",\t;"  # a comma first: it wins a tie


class FixableLog(ValueError):
    """A log lrfind recognises, with a fix of its own: no list of the accepted forms after it."""


def column_key(name: Any) -> str:
    """A column's name as matched: lower case, spaces and '-' as '_' ("Training Loss" is
    training_loss), W&B's "run-1 - train/loss" as "train/loss"."""
    tail = str(name).strip().lower().rsplit(" - ", 1)[-1]
    return re.sub(r"[\s-]+", "_", tail.strip())


def _run(name: Any) -> str | None:
    """The run of a W&B panel export's "<run> - <metric>" column; None for other names."""
    head, sep, _ = str(name).strip().rpartition(" - ")
    return head.strip() if sep else None


def csv_rows(text: str) -> list[list[str]]:
    """The rows with a cell in them, split on the separator that splits the header most
    (',', a tab or ';'). A line starting with '#' is a comment (an exporter's note), read
    as a blank line; the last one before the rows is the header where it names a column
    lrfind reads and the first row is numbers: numpy's savetxt writes '# step,loss'."""
    lines = text.splitlines()
    comments = [line.lstrip().startswith("#") for line in lines]
    kept = ["" if comment else line for line, comment in zip(lines, comments, strict=True)]
    first = next((line for line in kept if line.strip()), "")
    sep = max(SEPARATORS, key=lambda s: len(next(csv.reader([first], delimiter=s), [])))
    rows = csv.reader(io.StringIO("\n".join(kept)), delimiter=sep)
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    header = _comment_header(lines, sep)
    if rows and header and len(header) == len(rows[0]) and all(map(is_number, rows[0])):
        rows.insert(0, header)
    return rows


def _comment_header(lines: list[str], sep: str) -> list[str] | None:
    """The last comment before the first row, as cells, if one names a column lrfind reads."""
    last = None
    for line in lines:
        if line.lstrip().startswith("#"):
            last = line.lstrip()[1:]
        elif line.strip():
            break
    if last is None:
        return None
    cells = [c.strip() for c in next(csv.reader([last], delimiter=sep), [])]
    known = {*TRAIN_KEYS, *VAL_KEYS, *X_KEYS, *TENSORBOARD}
    return cells if any(column_key(c) in known for c in cells) else None


def check_one_run(names: Iterable[Any], used: Iterable[str | None]) -> None:
    """Raise FixableLog when the columns read (`used`) come from several runs or columns.

    W&B's "Export panel data" has one "<run> - train/loss" column per run of the panel.
    Merged, the curve would be whichever run's cell came last in each row: a verdict on no
    run. Diagnosing one of them silently is no better, since which comes first is only the
    panel's order, and a verdict on each is not one answer for the exit code and the plot.
    So this is exit 2 naming the runs: the user picks one (the message says how).
    """
    names = [str(n) for n in names]
    keys = {k for k in used if k is not None}
    read = [n for n in names if column_key(n) in keys]
    runs = list(dict.fromkeys(r for r in map(_run, read) if r is not None))
    if len(runs) > 1:
        raise FixableLog(
            f"it holds {len(runs)} runs ({', '.join(runs)}) in '<run> - <metric>' columns, "
            "as a W&B panel export writes them: diagnose reads one run; export a panel of "
            "that run alone, or delete the other runs' columns"
        )
    for key in sorted(keys):
        same = [n for n in read if column_key(n) == key]
        if len(same) > 1:
            raise FixableLog(
                f"{len(same)} columns read as {key} ({', '.join(map(repr, same))}): "
                "keep the one to diagnose"
            )


def no_train_column(names: Iterable[Any]) -> ValueError:
    """The error for a log without a train loss: the columns it has and the likely cause."""
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    found = f"; it has {shown}{more}" if names else ""
    looked = f"no train loss column (looked for {', '.join(TRAIN_KEYS)}){found}"
    return ValueError(f"{looked}{_cause(names)}")


def _cause(names: list[str]) -> str:
    keys = [column_key(n) for n in names]
    if len(names) == 1 and re.search(r"[\s|:]", names[0].strip()):
        return (
            f" (one column: is the file separated by something other than ',', a tab or "
            f"';'? {names[0]!r} looks like several names)"
        )
    if names and all(is_number(n) for n in names):
        return " (its first row is numbers: add a header, e.g. step,train_loss)"
    val = next((n for n, k in zip(names, keys, strict=True) if k in VAL_KEYS), None)
    if val is not None:
        return f" (only a validation loss, {val!r}: diagnose needs the train loss too)"
    lossy = next((n for n in names if "loss" in n.lower()), None)
    if lossy is not None:
        return f" (if {lossy!r} is the train loss, rename it train_loss)"
    return " (rename the train loss column train_loss)"


def is_number(s: Any) -> bool:
    try:
        float(s)
    except (TypeError, ValueError):
        return False
    return True

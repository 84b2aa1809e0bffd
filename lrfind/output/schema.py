"""What a report.json must hold, key by key, for the commands that read it back.

A report may come from another lrfind version or a hand edit; every key that
show, compare or schedule --from-report reads is checked for its type here,
in one place that all three go through (lrfind.output.reader.read_report), so
a bad one is one line that names it ("timing.sweep_s is a string"), never a
traceback from deep in the rendering, and a report one command refuses the
others refuse too. Keys nobody reads are not checked. The keys only schedule
--from-report plans from ("schedules") are checked where they are read, in
lrfind.tools.report_plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from lrfind.config.settings import METHOD_NAMES, SweepConfig
from lrfind.core.history import STOP_REASONS
from lrfind.errors import ConfigError, UsageError

Check = Callable[[Any], bool]

# The report's format version. A reader knows every version up to this one; a
# higher one comes from a newer lrfind, whose keys may mean something else.
SCHEMA_VERSION = 1
# The settings show reads the curve with (lrfind.core.result: the robust rule, the EMA).
READ_SETTINGS = ("smoothing", "stop_k", "stop_fraction", "divisor")


def _integer(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _real(x: Any) -> bool:  # a loss: NaN and inf are what the writer writes as null
    return isinstance(x, int | float) and not isinstance(x, bool)


def _number(x: Any) -> bool:
    return _real(x) and math.isfinite(x)


def _optional(check: Check) -> Check:
    return lambda x: x is None or check(x)


def _count(x: Any) -> bool:
    return _integer(x) and x >= 0


def _lr(x: Any) -> bool:
    return _number(x) and x > 0


def _isa(kind: type) -> Check:
    return lambda x: isinstance(x, kind)


_text, _is_map, _is_list = _isa(str), _isa(Mapping), _isa(list)


def _one_of(names: tuple[str, ...]) -> tuple[Check, str]:
    return (lambda x: isinstance(x, str) and x in names), f"one of {', '.join(names)}"


_MAP, _LIST = (_optional(_is_map), "an object"), (_optional(_is_list), "a list")
_TEXTS = (_text, "a string")
_NUMBER = (_optional(_number), "a number or null")
_INTEGER = (_optional(_integer), "an integer or null")
_CURVE: dict[str, tuple[Check, str]] = {  # a history as History.to_dict wrote it
    "": (_is_map, "an object of lists (lr, loss, smoothed_loss)"),
    ".lr": (_is_list, "a list of LRs"),
    ".lr[]": (_lr, "an LR (a number > 0)"),
    ".loss": (_is_list, "a list of losses"),
    ".loss[]": (_optional(_real), "a loss (a number or null)"),
    ".smoothed_loss": (_is_list, "a list of losses"),
    ".smoothed_loss[]": (_optional(_real), "a loss (a number or null)"),
}

# Every key a command reads -> (check, what it should be). A path is keys joined by ".",
# "[]" for each item of a list, "*" for each value of an object; a key inside a value of
# the wrong type is not looked at (the outer key, listed first, is the error). Missing
# keys are allowed (older reports) except those the reader requires; null is allowed
# where the writer writes it, or where it reads as "not recorded".
KEYS: dict[str, tuple[Check, str]] = {
    "stop_reason": _one_of(STOP_REASONS),
    "method": _one_of(METHOD_NAMES),
    "lr_at_min_loss": _NUMBER,
    "steps_run": _INTEGER,
    "skipped_steps": (_optional(_count), "an integer >= 0 or null"),
    "suggestions": (_optional(_is_map), "an object of method -> LR"),
    "suggestions.*": (_optional(_number), "an LR (a number) or null"),
    "no_suggestion_reasons": (_optional(_is_map), "an object of method -> reason"),
    "no_suggestion_reasons.*": (_optional(_text), "a string or null"),
    "warnings": (_optional(_is_list), "a list of strings"),
    "warnings[]": _TEXTS,
    "loss_source": (_optional(_text), "a string"),
    "error": (_optional(_text), "a string or null"),
    # The curve's lists themselves the reader checks ("its history is missing or ...").
    **{f"history{k}": v for k, v in _CURVE.items() if k.endswith("[]")},
    "config": (_optional(_is_map), "an object of settings"),
    **{f"config.{k}": _NUMBER for k in ("start_lr", "end_lr", *READ_SETTINGS)},
    **{f"config.{k}": _INTEGER for k in ("steps", "accumulate", "repeats")},
    "environment": (_optional(_is_map), "an object"),
    "environment.device": (_optional(_text), "a string"),
    "timing": (_optional(_is_map), "an object of seconds"),
    "timing.*": (_optional(_number), "a number of seconds or null"),
    # The three training keys schedule --from-report reads are said as it always said them.
    "training": (_optional(_is_map), "an object or null"),
    "training.optimizer": _TEXTS,
    "training.origin": _TEXTS,
    "training.hyperparameters": _MAP,
    "training.param_groups": (
        _optional(lambda x: _is_list(x) and all(map(_is_map, x))),
        "a list of objects",
    ),
    "training.param_groups[].lr_ratio": (_lr, "an LR (a number > 0)"),
    "training.param_groups[].params": (_count, "an integer >= 0"),
    "training.param_groups[].weight_decay": _NUMBER,
    "training.param_groups[].lr_scale": _NUMBER,
    "training.clip_grad": _NUMBER,
    "training.clip_mode": (_optional(_text), "a string or null"),
    "training.accumulate": (_optional(lambda x: _integer(x) and x >= 1), "an integer >= 1"),
    "training.amp": (_optional(_text), "a string or null"),
    "training.stack": (_optional(_text), "a string or null"),
    **{f"training.{k}": _LIST for k in ("took", "set_aside", "notes")},
    **{f"training.{k}[]": _TEXTS for k in ("took", "set_aside", "notes")},
    "repeats": (_optional(_is_map), "an object or null"),
    "repeats.count": (_count, "an integer >= 0"),
    "repeats.shown": (_count, "an integer >= 0 (a repeat's index)"),
    "repeats.median_lr": _NUMBER,
    "repeats.spread_decades": _NUMBER,
    "repeats.std_decades": _NUMBER,
    "repeats.runs": (_is_list, "a list of objects"),
    "repeats.runs[]": (_is_map, "an object"),
    "repeats.runs[].seed": (_integer, "an integer"),
    "repeats.runs[].stop_reason": _one_of(STOP_REASONS),
    "repeats.runs[].suggested_lr": _NUMBER,
    "repeats.runs[].suggestions": (_optional(_is_map), "an object of method -> LR"),
    "repeats.runs[].suggestions.*": (_optional(_number), "an LR (a number) or null"),
    **{f"repeats.runs[].history{k}": v for k, v in _CURVE.items()},
    "refine": (_optional(_is_map), "an object or null"),
    "refine.swept_lr": (_lr, "an LR (a number > 0)"),
    "refine.lr": (_lr, "an LR (a number > 0)"),
    "refine.interrupted": (_isa(bool), "true or false"),
    "refine.probes": (_is_list, "a list of objects"),
    "refine.probes[]": (_is_map, "an object"),
    "refine.probes[].lr": (_lr, "an LR (a number > 0)"),
    "refine.probes[].train_loss": (_optional(_real), "a loss (a number or null)"),
    "refine.probes[].val_loss": (_optional(_real), "a loss (a number or null)"),
    "refine.probes[].steps": (_count, "an integer >= 0"),
}  # fmt: skip
# The keys whose value the message shows as it is ('training' is 'SGD'), not by its kind.
_AS_IS = ("training", "training.param_groups", "training.param_groups[].lr_ratio")


def check_report(report: Mapping[str, Any], path: object) -> None:
    """UsageError naming the first key whose value has the wrong type ('timing.sweep_s')."""
    version = report.get("schema_version", SCHEMA_VERSION)
    if not _integer(version):
        raise UsageError(f"{path}: 'schema_version' is {_kind(version)}, expected an integer")
    if not 1 <= version <= SCHEMA_VERSION:
        fix = (
            "a newer lrfind wrote it: upgrade lrfind (pip install -U lrfind)"
            if version > SCHEMA_VERSION
            else "give the report.json that `lrfind run` wrote"
        )
        raise UsageError(
            f"{path}: schema_version {version} is not one this lrfind reads "
            f"(1 to {SCHEMA_VERSION}); {fix}"
        )
    for key, (check, want) in KEYS.items():
        found = _first_bad(report, _parts(key), "", check)
        if found is not None:
            where, value = found
            shown = _shown(value) if key in _AS_IS else _kind(value)
            raise UsageError(f"{path}: '{where}' is {shown}, expected {want}")
    _check_repeats(report.get("repeats"), path)
    config = report.get("config") or {}
    try:  # in range too: SweepConfig's own checks, as the sweep met them
        SweepConfig(**{k: config[k] for k in READ_SETTINGS if config.get(k) is not None})
    except ConfigError as e:
        raise UsageError(f"{path}: config." + "; config.".join(e.problems)) from None


def _parts(key: str) -> list[str]:
    """ "a.b[].c" -> ["a", "b", "[]", "c"]."""
    parts = []
    for name in key.split("."):
        bare = name.removesuffix("[]")
        parts += [bare, "[]"] if bare != name else [name]
    return parts


def _first_bad(value: Any, parts: list[str], where: str, check: Check) -> tuple[str, Any] | None:
    """(its path, value) of the first value at `parts` below `value` that fails `check`."""
    if not parts:
        return None if check(value) else (where, value)
    head, rest = parts[0], parts[1:]
    if head == "[]" and isinstance(value, list):
        if not rest:  # a curve's million points: no path is made for the good ones
            bad = next((i for i, item in enumerate(value) if not check(item)), None)
            return None if bad is None else (f"{where}[{bad}]", value[bad])
        items = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    elif head == "*" and isinstance(value, Mapping):
        items = [(f"{where}.{name}", item) for name, item in value.items()]
    elif head not in ("[]", "*") and isinstance(value, Mapping) and head in value:
        items = [(f"{where}.{head}" if where else head, value[head])]
    else:
        return None
    for inner, item in items:
        found = _first_bad(item, rest, inner, check)
        if found is not None:
            return found
    return None


def _check_repeats(repeats: Any, path: object) -> None:
    """What the repeats' types cannot say: the index of the run shown, the median."""
    if not isinstance(repeats, Mapping) or not isinstance(repeats.get("runs"), list):
        return
    runs = repeats["runs"]
    shown = repeats.get("shown")
    if shown is not None and not shown < len(runs):
        raise UsageError(
            f"{path}: 'repeats.shown' is {shown}, expected the index of one of its {len(runs)} runs"
        )
    for i, run in enumerate(runs):
        curve = run.get("history")
        if not isinstance(curve, Mapping):
            continue
        if len({len(curve[k]) for k in ("lr", "loss", "smoothed_loss") if k in curve}) > 1:
            raise UsageError(
                f"{path}: 'repeats.runs[{i}].history' has lists of different lengths "
                "(lr, loss, smoothed_loss), expected one entry per step in each"
            )
    if any(run.get("suggested_lr") is not None for run in runs):
        for key in ("median_lr", "spread_decades"):
            if key in repeats and repeats[key] is None:
                raise UsageError(
                    f"{path}: 'repeats.{key}' is null, expected a number: its runs hold suggestions"
                )


def _shown(value: Any) -> str:
    """The value as Python writes it, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value: Any) -> str:
    """ "a list", "a string ('0.2 s')": what the value is, briefly."""
    name = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value))  # fmt: skip
    if name is None:
        return f"a {type(value).__name__}"
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return f"{name} ({_shown(value)})"
    return name

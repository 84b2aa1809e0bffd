"""What a report.json must hold, key by key, for the commands that read it back.

A report may come from another lrfind version or a hand edit; every key that
show, compare or schedule --from-report reads is checked for its type here,
so a bad one is one line that names it ("timing.sweep_s is a string"), never
a traceback from deep in the rendering. Keys nobody reads are not checked.
The keys only schedule --from-report plans from ("schedules", the groups'
"lr_ratio") are checked where they are read, in lrfind.tools.report_plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from lrfind.errors import UsageError

Check = Callable[[Any], bool]

# The report's format version. A reader knows every version up to this one; a
# higher one comes from a newer lrfind, whose keys may mean something else.
SCHEMA_VERSION = 1


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _optional(check: Check) -> Check:
    return lambda x: x is None or check(x)


def _text(x: Any) -> bool:
    return isinstance(x, str)


def _is_map(x: Any) -> bool:
    return isinstance(x, Mapping)


# key -> (check, what it should be). Missing keys are allowed (older reports), except
# those lrfind.output.reader requires; null is allowed where the writer writes it.
TOP: dict[str, tuple[Check, str]] = {
    "schema_version": (lambda x: isinstance(x, int) and not isinstance(x, bool), "an integer"),
    "stop_reason": (_text, "a string"),
    "method": (_text, "a string"),
    "lr_at_min_loss": (_optional(_number), "a number or null"),
    "steps_run": (_optional(lambda x: isinstance(x, int) and not isinstance(x, bool)),
                  "an integer or null"),
    "suggestions": (_optional(_is_map), "an object of method -> LR"),
    "no_suggestion_reasons": (_optional(_is_map), "an object of method -> reason"),
    "warnings": (_optional(lambda x: isinstance(x, list)), "a list of strings"),
    "config": (_optional(_is_map), "an object of settings"),
    "environment": (_optional(_is_map), "an object"),
    "timing": (_optional(_is_map), "an object of seconds"),
    "loss_source": (_optional(_text), "a string"),
    "error": (_optional(_text), "a string or null"),
}  # fmt: skip
# Inside those: what each value must be (every value of a table, or one named key).
VALUES: dict[str, tuple[Check, str]] = {
    "suggestions": (_optional(_number), "an LR (a number) or null"),
    "no_suggestion_reasons": (_optional(_text), "a string or null"),
    "timing": (_optional(_number), "a number of seconds or null"),
    "warnings": (_text, "a string"),
}
NAMED: dict[tuple[str, str], tuple[Check, str]] = {
    ("environment", "device"): (_optional(_text), "a string"),
}


def check_report(report: Mapping[str, Any], path: object) -> None:
    """UsageError naming the first key whose value has the wrong type ('timing.sweep_s')."""
    for key, (check, want) in TOP.items():
        if key in report and not check(report[key]):
            raise UsageError(f"{path}: {key!r} is {_kind(report[key])}, expected {want}")
    version = report.get("schema_version", SCHEMA_VERSION)
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
    for key, (check, want) in VALUES.items():
        table = report.get(key)
        items = table.items() if isinstance(table, Mapping) else enumerate(table or [])
        for name, value in items:
            if not check(value):
                where = f"{key}[{name}]" if isinstance(table, list) else f"{key}.{name}"
                raise UsageError(f"{path}: '{where}' is {_kind(value)}, expected {want}")
    for (outer, key), (check, want) in NAMED.items():
        table = report.get(outer)
        if isinstance(table, Mapping) and key in table and not check(table[key]):
            raise UsageError(f"{path}: '{outer}.{key}' is {_kind(table[key])}, expected {want}")


def _kind(value: Any) -> str:
    """ "a list", "a string ('0.2 s')": what the value is, briefly."""
    name = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value))  # fmt: skip
    if name is None:
        return f"a {type(value).__name__}"
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = repr(value)
        return f"{name} ({text if len(text) <= 40 else text[:37] + '...'})"
    return name

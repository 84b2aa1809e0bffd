"""Fuzzing each command over its inputs: whatever they are, lrfind answers in its own words.

For every command (run, show, compare, schedule, diagnose) hypothesis generates
inputs (reports with any key's value replaced, loss logs, option values, SPEC
strings, config files) and the real CLI must exit with 0, 1 or 2, print no
traceback, raise nothing but SystemExit, and never need the last-resort line
("lrfind failed unexpectedly"), which would hide a case nothing explained.
Derandomized and small, so CI is deterministic and fast; `run` never reaches
a sweep (its build returns None).
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.tools.schedulers import ALIASES, SCHEDULES

from .conftest import ASSETS

GOOD = json.loads((ASSETS / "faults" / "reports" / "good.json").read_text())
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
runner = CliRunner()

leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    leaves,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=8,
)
# The values that break arithmetic come first: hypothesis then tries them early and often.
EDGES = [0, 1, -1, 0.5, 2, 1e-300, 1e300, 5e-324, float("nan"), float("inf"), float("-inf")]
# Truthy values of every JSON type, tried first: `x or default` hides falsy ones.
WRONG = ["0.2 s", "", [1, "a"], {"a": 1}, True, -1, 0, 1e308, None, [], {}]
wrong = st.sampled_from(WRONG).map(copy.deepcopy) | json_values  # a fresh copy each time
numbers = (
    st.sampled_from(EDGES)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**6), 10**6)
)
option_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=12
)


def invoke(args: list[str]) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1, 2), (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result)
    assert "Traceback" not in result.output, (args, result.output)
    # The last-resort line would hide the bug: every input must have been explained.
    assert "lrfind failed unexpectedly" not in result.output, (args, result.output)
    return result


def _paths(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every key path in the report, down two levels (history.lr, timing.sweep_s, ...)."""
    out: list[tuple[str, ...]] = []
    for key, value in report.items():
        out.append((key,))
        if isinstance(value, dict):
            out += [(key, inner) for inner in value]
    return out


# The keys show, compare and schedule --from-report read back.
READ = [
    (k,) for k in ("schema_version", "suggested_lr", "method", "lr_at_min_loss", "stop_reason",
                   "steps_run", "suggestions", "no_suggestion_reasons", "warnings", "config",
                   "environment", "timing", "loss_source", "history", "error")
] + [("history", "lr"), ("history", "loss"), ("history", "smoothed_loss"), ("timing", "sweep_s"),
     ("environment", "device"), ("config", "steps"), ("config", "optimizer_kwargs"),
     ("suggestions", "min_div_10"), ("no_suggestion_reasons", "min_div_10")]  # fmt: skip


@st.composite
def reports(draw: st.DrawFn) -> Any:
    """good.json with a few keys replaced by anything JSON can hold (or deleted), or junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)
    report = json.loads(json.dumps(GOOD))
    paths = draw(st.lists(st.sampled_from(READ), min_size=1, max_size=3))  # what readers read
    paths += draw(st.lists(st.sampled_from(_paths(GOOD)), max_size=2))  # and any other key
    for path in paths:
        parent = report
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            if draw(st.integers(0, 3)):
                parent[path[-1]] = draw(wrong)
            else:
                parent.pop(path[-1], None)
    return report


def _write(folder: str, name: str, data: Any) -> str:
    path = Path(folder) / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(json.dumps(data))  # NaN / Infinity literals included, as Python writes
    return str(path)


@settings(FUZZ, max_examples=50)
@given(report=reports())
def test_fuzz_show(report: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        invoke(["show", _write(tmp, "report.json", report), "--no-plot"])


@pytest.mark.parametrize("path", READ, ids=".".join)
@settings(FUZZ, max_examples=6)
@given(value=wrong)
def test_fuzz_show_each_key_it_reads(path: tuple[str, ...], value: Any) -> None:
    """Every key show reads, in turn, given every kind of wrong value."""
    report = json.loads(json.dumps(GOOD))
    parent = report if len(path) == 1 else report[path[0]]
    parent[path[-1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        invoke(["show", _write(tmp, "report.json", report), "--no-plot"])


@settings(FUZZ, max_examples=40)
@given(base=reports(), new=reports(), tolerance=numbers, as_json=st.booleans())
def test_fuzz_compare(base: Any, new: Any, tolerance: float, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        args = ["compare", _write(tmp, "a.json", base), _write(tmp, "b.json", new)]
        invoke([*args, "--tolerance", str(tolerance), *(["--json"] if as_json else [])])


SCHEDULE_INTS = [
    "--step-size",
    "--t0",
    "--t-mult",
    "--step-size-up",
    "--warmup-steps",
    "--patience",
]
SCHEDULE_FLOATS = [
    "--gamma",
    "--power",
    "--eta-min",
    "--pct-start",
    "--div-factor",
    "--final-div-factor",
    "--base-lr",
    "--warmup-start-factor",
    "--factor",
    "--threshold",
]


@FUZZ
@given(
    names=st.lists(st.sampled_from([*SCHEDULES, *ALIASES, "bogus"]), min_size=1, max_size=3),
    lr=numbers,
    steps=st.integers(-3, 400),
    ints=st.dictionaries(st.sampled_from(SCHEDULE_INTS), st.integers(-5, 10**9), max_size=3),
    floats=st.dictionaries(st.sampled_from(SCHEDULE_FLOATS), numbers, max_size=3),
    milestones=st.none() | option_text,
    plateau=st.none() | st.lists(numbers, max_size=30),
)
def test_fuzz_schedule(
    names: list[str],
    lr: float,
    steps: int,
    ints: dict[str, int],
    floats: dict[str, float],
    milestones: str | None,
    plateau: list[float] | None,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        args = ["schedule", *names, "--lr", str(lr), "--steps", str(steps), "--no-plot"]
        for option, value in [*ints.items(), *floats.items()]:
            args += [option, str(value)]
        if milestones is not None:
            args += ["--milestones", milestones]
        if plateau is not None:
            args += ["--plateau-losses", _write(tmp, "losses.json", plateau)]
        invoke(args)


cells = st.one_of(numbers.map(str), option_text, st.just(""), st.just("nan"))


@st.composite
def loss_logs(draw: st.DrawFn) -> Any:
    """A CSV (a header and rows of any cells), JSON of any shape, or bytes."""
    kind = draw(st.sampled_from(["csv", "json", "records", "bytes", "floats", "constant"]))
    if kind == "floats":  # a valid log, mostly: the thresholds then do the work
        return draw(st.lists(numbers, min_size=6, max_size=12))  # diagnose needs 6
    if kind == "constant":  # all zero, all one value: every ratio's denominator at once
        return [draw(st.sampled_from(EDGES))] * draw(st.integers(6, 12))
    if kind == "csv":
        header = draw(
            st.lists(
                st.sampled_from(["step", "epoch", "train_loss", "val_loss", "loss", "x"]),
                min_size=1,
                max_size=3,
            )
        )
        rows = draw(
            st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=25)
        )
        return "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    if kind == "json":
        return draw(st.lists(numbers | st.none(), max_size=25) | json_values)
    if kind == "records":
        keys = st.sampled_from(["epoch", "train_loss", "val_loss", "step"])
        return draw(st.lists(st.dictionaries(keys, numbers | st.none() | option_text), max_size=20))
    return draw(st.binary(max_size=200))


@FUZZ
@given(
    log=loss_logs(),
    options=st.dictionaries(
        st.sampled_from(
            [
                "--window",
                "--diverge-rise",
                "--spike",
                "--stuck-drop",
                "--oscillation",
                "--overfit-rise",
            ]
        ),
        st.sampled_from([0.01, 0.2, 0.49, 0.5]) | numbers,
        max_size=3,
    ),
)
def test_fuzz_diagnose(log: Any, options: dict[str, float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        args = ["diagnose", _write(tmp, "log.csv", log), "--no-plot"]
        for option, value in options.items():
            args += [option, str(value)]
        invoke(args)


identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@st.composite
def specs(draw: st.DrawFn, folder: str) -> str:
    """SPEC strings that can never import a real module: files in `folder`, or no package."""
    kind = draw(st.integers(0, 4))
    func = draw(identifiers | option_text)
    if kind == 0:
        return draw(option_text)  # anything, with or without a colon
    if kind == 1:
        return f"{folder}/build_none.py:{func}"  # exists; build() returns None
    if kind == 2:
        return f"{folder}/{draw(identifiers)}.py:{func}"  # a file that is not there
    if kind == 3:
        return f"lrfind_fuzz_nowhere.{draw(identifiers)}:{func}"  # a package that is not there
    return f"./{draw(option_text)}:{func}"  # a path of any text


RUN_NUMBERS = ["--start-lr", "--end-lr", "--smoothing", "--diverge-threshold", "--dist-timeout"]
RUN_INTS = ["--steps", "--seed", "--repeats", "--val-batches", "--accumulate"]
RUN_TEXT = ["--mode", "--optimizer", "--method", "--amp", "--device"]


@FUZZ
@given(data=st.data())
def test_fuzz_run(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "build_none.py").write_text("def build(**kwargs):\n    return None\n")
        args = ["run", data.draw(specs(tmp)), "--no-plot", "--out-dir", f"{tmp}/out"]
        draws = {
            **data.draw(st.dictionaries(st.sampled_from(RUN_NUMBERS), numbers, max_size=3)),
            **data.draw(
                st.dictionaries(st.sampled_from(RUN_INTS), st.integers(-5, 10**7), max_size=3)
            ),
            **data.draw(st.dictionaries(st.sampled_from(RUN_TEXT), option_text, max_size=2)),
        }
        for option, value in draws.items():
            args += [option, str(value)]
        for item in data.draw(st.lists(option_text, max_size=2)):
            args += ["--arg", item]
        if data.draw(st.booleans()):
            args += [
                "--config",
                _write(tmp, "c.toml", data.draw(option_text | st.binary(max_size=60))),
            ]
        if data.draw(st.booleans()):
            args.append(
                data.draw(st.sampled_from(["--json", "-q", "--compile", "--channels-last"]))
            )
        invoke(args)

"""Scoring suggestions against the cached ground truth, with no training (for quality_score/tune).

- `load()`: every task's ground truth (grid, mean scores, best LR) and its raw sweeps, from
  benchmarks/results/suite-cache.json; tasks whose grid is not complete yet are left out.
- `interpolated(truth, lr)`: the grid's mean score, linear in log10(LR) between grid points
  (clamped at the ends, where the curve is flat: the start loss below, failed runs above).
- `assess(...)`: decades off = log10(lr / grid-best) and regret = score / best score - 1.
- `RULES`: every rule replayed on the same raw curves, by name. "new default" is lrfind's
  own shipped code (lrfind.core.robust*: the sweep cut where its stop rule fires, then its
  suggestion), rule v2 since the holdout round, not the prototype in rules.py that it was
  ported from (tests/test_robust_replay.py checks the two agree on every cached sweep);
  "robust v1 (min / 5)" is the previous default, lrfind.core.robust.V1, by the same code.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quality_peers import PEERS
from quality_suite import SUITE, half_of
from quality_today import today
from quality_truth import SWEEP, Cache, ground_truth
from rules import Rule, suggest

PLANNED = SWEEP["steps"]


@dataclass(frozen=True)
class Sweep:
    task: str
    seed: int
    lrs: list[float]
    raw: list[float]


@dataclass(frozen=True)
class Case:
    """One task: its ground truth and its three sweeps."""

    name: str
    family: str
    half: str
    truth: dict[str, Any]
    sweeps: list[Sweep]


def load_cases(
    tasks: Mapping[str, Any], cache: Cache, half: Callable[[str], str]
) -> tuple[list[Case], list[str]]:
    """(complete cases of `tasks` in `cache`, names still pending); `half(name)` labels each."""
    cases, pending = [], []
    for name, task in tasks.items():
        truth = ground_truth(task, cache, compute=False) if name in cache.data else None
        section = cache.section(task)
        sweeps = [
            Sweep(name, int(s), v["lrs"], v["losses"]) for s, v in sorted(section["sweeps"].items())
        ]
        if truth is None or len(sweeps) < 3:
            pending.append(name)
            continue
        cases.append(Case(name, task.family, half(name), truth, sweeps))
    return cases, pending


def load(cache: Cache | None = None) -> tuple[list[Case], list[str]]:
    """The suite's complete cases (each in its half) and the names of the tasks still pending."""
    return load_cases(SUITE, cache or Cache(), half_of)


def interpolated(truth: dict[str, Any], lr: float) -> float:
    logs = [math.log10(x) for x in truth["grid"]]
    scores = truth["scores"]
    v = math.log10(lr)
    if v <= logs[0]:
        return scores[0]
    if v >= logs[-1]:
        return scores[-1]
    j = bisect.bisect_right(logs, v)
    t = (v - logs[j - 1]) / (logs[j] - logs[j - 1])
    return scores[j - 1] + t * (scores[j] - scores[j - 1])


def assess(truth: dict[str, Any], lr: float | None, exact: float | None = None) -> dict[str, Any]:
    """Decades off and regret of one suggestion (`exact`: the mean score trained at that LR)."""
    if lr is None:
        return {"lr": None, "decades": None, "regret": None}
    score = interpolated(truth, lr) if exact is None else exact
    return {"lr": lr, "decades": math.log10(lr / truth["best_lr"]),
            "regret": score / truth["best_score"] - 1.0}  # fmt: skip


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Decades off (mean, median, signed mean, count > 1), regret (mean, median, worst)."""
    scored = [r for r in rows if r["lr"] is not None]
    out: dict[str, Any] = {"n": len(rows), "none": len(rows) - len(scored)}
    if not scored:
        return out
    dec = [abs(r["decades"]) for r in scored]
    reg = [r["regret"] for r in scored]
    out.update(dec_mean=statistics.fmean(dec), dec_median=statistics.median(dec),
               dec_signed=statistics.fmean(r["decades"] for r in scored),
               over_1=sum(d > 1.0 for d in dec), reg_mean=statistics.fmean(reg),
               reg_median=statistics.median(reg), reg_worst=max(reg))  # fmt: skip
    return out


RuleFn = Callable[[Sequence[float], Sequence[float]], float | None]


def new_rule(rule: Rule) -> RuleFn:
    return lambda lrs, raw: suggest(lrs, raw, rule).lr


def shipped(lrs: Sequence[float], raw: Sequence[float], rule: Any = None) -> Any:
    """lrfind's default rule as it ships (or `rule`, a RobustRule, by the same code): the sweep
    cut by its stop rule, then its answer."""
    from lrfind.core.robust import RobustRule, replay
    from lrfind.core.robust_suggest import robust_answer

    rule = RobustRule() if rule is None else rule
    n, stop, _ = replay(raw, rule)
    return robust_answer(lrs[:n], raw[:n], stop, rule)


def _peer(fn: Callable[..., Any]) -> RuleFn:
    return lambda lrs, raw: fn(lrs, raw, PLANNED).lr


RULES: dict[str, RuleFn] = {
    "lrfind today (default)": lambda lrs, raw: today(lrs, raw, PLANNED).lr,
    "lrfind today, --smoothing 0.05": lambda lrs, raw: today(lrs, raw, PLANNED, 0.05).lr,
    **{name: _peer(fn) for name, fn in PEERS.items()},
    "robust v1 (min / 5)": lambda lrs, raw: shipped(lrs, raw, _v1()).lr,
    "new default": lambda lrs, raw: shipped(lrs, raw).lr,
}


def _v1() -> Any:
    from lrfind.core.robust import V1

    return V1


def evaluate(cases: Sequence[Case], fn: RuleFn) -> list[dict[str, Any]]:
    """Every sweep of every case under one rule: task, family, half, and assess()'s numbers."""
    rows = []
    for case in cases:
        for sw in case.sweeps:
            row = assess(case.truth, fn(sw.lrs, sw.raw))
            rows.append({"task": case.name, "family": case.family, "half": case.half,
                         "seed": sw.seed, **row})  # fmt: skip
    return rows


def reference_points(raw: Sequence[float]) -> tuple[int, int, int]:
    """(true minimum, explosion, last finite index) of a full curve run past divergence.

    The minimum is that of a heavily smoothed copy (centred median of 9, mean of 5) past the
    first 5 points; the explosion is the first point after it where that copy is back above
    the start level (the median of the first 10 raw losses), or the last finite point.
    """
    from rules import _centred

    finite = [v for v in raw if math.isfinite(v)]
    last = len(finite) - 1
    smooth = _centred(_centred(finite, 9, "median"), 5, "mean")
    lo = min(5, last)
    m = min(range(lo, last + 1), key=smooth.__getitem__)
    start = statistics.median(finite[:10])
    e = next((i for i in range(m, last + 1) if smooth[i] > start), last)
    return m, e, last

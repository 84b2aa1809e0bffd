"""Scoring on the fresh held-out set (quality_holdout.py): every rule, v1 against v2, no training.

    python benchmarks/quality_holdout_score.py          # tables; results/holdout-scores.json
    python benchmarks/quality_holdout_score.py --suite  # the same tables on the 39 suite tasks

The rules: lrfind 0.1's old default (ratio stop on the raw loss, smoothing off, 3 points
trimmed) and the same with `--smoothing 0.05`; v1, the previous default (lrfind's own code,
lrfind.core.robust.V1); v2, the rule of benchmarks/results/rule-v2.json, replayed by rules.py
(the prototype both were ported from) as it was when the decision below was taken, and since
then lrfind's shipped default (the agreement line checks, sweep by sweep, that lrfind's
shipped code gives rules.py's v2 answer); the peers' defaults (fastai minimum and valley,
torch-lr-finder, Lightning, ignite). Regret is interpolated on the grid, as in quality_eval.

The decision, pre-registered in quality_holdout.py's docstring and here before any scoring:
v2 replaces v1 only if, over the holdout's 30 sweeps, (a) v2's mean regret is lower than v1's
(a sweep with no suggestion scoring the regret of the grid's lowest LR, as in the tuning
objective) and (b) v2 has no more suggestions > 1 decade from the grid best than v1 (a missing
suggestion counting as one).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_eval import RULES, Case, assess, evaluate, load_cases, shipped, summary
from quality_truth import RESULTS, Cache
from rules import Rule
from rules import suggest as prototype

V2 = RESULTS / "rule-v2.json"
NAMES = {  # table name: quality_eval.RULES key
    "lrfind 0.1 default (smoothing off, 3 trimmed)": "lrfind today (default)",
    "lrfind 0.1, --smoothing 0.05": "lrfind today, --smoothing 0.05",
    "v1 (previous default)": "robust v1 (min / 5)",
}
V1_NAME, V2_NAME = "v1 (previous default)", "v2 (candidate; now the shipped default)"
PEER_NAMES = (
    "fastai minimum",
    "fastai valley (its default)",
    "torch-lr-finder",
    "Lightning",
    "ignite",
)


def v2_rule() -> Rule:
    return Rule(**json.loads(V2.read_text())["rule"])


def load_holdout() -> tuple[list[Case], list[str]]:
    from quality_holdout import CACHE, HOLDOUT

    return load_cases(HOLDOUT, Cache(CACHE), lambda _: "holdout")


def answers(cases: Sequence[Case]) -> dict[str, Callable[[Sequence[float], Sequence[float]], Any]]:
    """name -> fn(lrs, raw) returning an object with .lr (and .confidence for v1 and v2)."""
    v2 = v2_rule()
    out: dict[str, Callable[..., Any]] = {}
    for name, key in NAMES.items():
        fn = RULES[key]
        out[name] = (lambda f: lambda x, y: _Lr(f(x, y)))(fn)
    out[V1_NAME] = lambda x, y: shipped(x, y, _v1())
    out[V2_NAME] = lambda x, y: prototype(x, y, v2)
    for name in PEER_NAMES:
        out[name] = (lambda f: lambda x, y: _Lr(f(x, y)))(RULES[name])
    return out


class _Lr:
    def __init__(self, lr: float | None) -> None:
        self.lr, self.confidence = lr, None


def penalised(cases: Sequence[Case], rows: Sequence[dict[str, Any]]) -> tuple[float, int]:
    """(mean regret with a missing suggestion scoring the grid's lowest LR, count > 1 decade
    with a missing suggestion counted): the two numbers of the pre-registered decision."""
    truth = {c.name: c.truth for c in cases}
    regrets, over = [], 0
    for r in rows:
        if r["lr"] is None:
            regrets.append(assess(truth[r["task"]], truth[r["task"]]["grid"][0])["regret"])
            over += 1
        else:
            regrets.append(r["regret"])
            over += abs(r["decades"]) > 1.0
    return statistics.fmean(regrets), over


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", action="store_true", help="score the 39 suite tasks instead")
    args = parser.parse_args(argv)
    if args.suite:
        from quality_eval import load

        cases, pending = load()
        out_path = RESULTS / "holdout-scores-suite.json"
    else:
        cases, pending = load_holdout()
        out_path = RESULTS / "holdout-scores.json"
    fns = answers(cases)
    results = {name: evaluate(cases, lambda x, y, f=fn: f(x, y).lr) for name, fn in fns.items()}
    sweeps = sum(len(c.sweeps) for c in cases)
    print(f"{len(cases)} tasks, {sweeps} sweeps scored; pending: {', '.join(pending) or 'none'}\n")
    print(tasks_table(cases), "\n")
    print(rules_table(cases, results), "\n")
    print(per_task_table(cases, results), "\n")
    print(confidence_table(cases, {k: fns[k] for k in (V1_NAME, V2_NAME)}), "\n")
    print(agreement(cases, v2_rule()), "\n")
    verdict = decide(cases, results[V1_NAME], results[V2_NAME])
    print(verdict)
    out_path.write_text(json.dumps({"pending": pending, "rows": results, "decision": verdict},
                                   indent=1, allow_nan=True))  # fmt: skip


def tasks_table(cases: Sequence[Case]) -> str:
    lines = [
        "| task | family | grid-best LR | its score | grid |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in cases:
        t = c.truth
        lines.append(f"| {c.name} | {c.family} | {t['best_lr']:.3g} | {t['best_score']:.4g} | "
                     f"{t['grid'][0]:.0e} to {t['grid'][-1]:.0e} |")  # fmt: skip
    return "\n".join(lines)


def rules_table(cases: Sequence[Case], results: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["| rule | decades off: mean / median | signed mean | regret: mean / median | worst | "
             "> 1 decade | no suggestion | regret, mean (none = grid's lowest LR) |",
             "| --- |" + " --- |" * 7]  # fmt: skip
    for name, rows in results.items():
        s = summary(rows)
        pen, _ = penalised(cases, rows)
        if "dec_mean" not in s:
            lines.append(f"| {name} | | | | | | {s['none']} | {_pct(pen)} |")
            continue
        lines.append(f"| {name} | {s['dec_mean']:.2f} / {s['dec_median']:.2f} | {s['dec_signed']:+.2f} | "
                     f"{_pct(s['reg_mean'])} / {_pct(s['reg_median'])} | {_pct(s['reg_worst'])} | "
                     f"{s['over_1']} / {s['n']} | {s['none']} | {_pct(pen)} |")  # fmt: skip
    return "\n".join(lines)


def per_task_table(cases: Sequence[Case], results: dict[str, list[dict[str, Any]]]) -> str:
    """v1 and v2 per task: mean signed decades off and mean regret over its 3 sweeps."""
    lines = ["| task | v1: decades (signed) / regret | v2: decades (signed) / regret |",
             "| --- | --- | --- |"]  # fmt: skip
    for c in cases:
        cells = []
        for name in (V1_NAME, V2_NAME):
            rows = [r for r in results[name] if r["task"] == c.name and r["lr"] is not None]
            if not rows:
                cells.append("none")
                continue
            dec = statistics.fmean(r["decades"] for r in rows)
            cells.append(f"{dec:+.2f} / {_pct(statistics.fmean(r['regret'] for r in rows))}"
                         + ("" if len(rows) == 3 else f" ({3 - len(rows)} none)"))  # fmt: skip
        lines.append(f"| {c.name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def confidence_table(cases: Sequence[Case], fns: dict[str, Callable[..., Any]]) -> str:
    lines = ["| rule | confidence | sweeps | decades off: mean | regret: mean / median | worst |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, fn in fns.items():
        groups: dict[str, list[dict[str, Any]]] = {}
        for c in cases:
            for sw in c.sweeps:
                a = fn(sw.lrs, sw.raw)
                groups.setdefault(a.confidence, []).append(assess(c.truth, a.lr))
        for level in ("high", "medium", "low"):
            rows = groups.get(level, [])
            s = summary(rows)
            if "dec_mean" in s:
                lines.append(f"| {name} | {level} | {s['n']} | {s['dec_mean']:.2f} | "
                             f"{_pct(s['reg_mean'])} / {_pct(s['reg_median'])} | {_pct(s['reg_worst'])} |")  # fmt: skip
            elif rows:
                lines.append(f"| {name} | {level} | {len(rows)} (no suggestion) | | | |")
    return "\n".join(lines)


def agreement(cases: Sequence[Case], v2: Rule) -> str:
    """v2 is scored by rules.py's replay: check that lrfind's shipped default gives its answers
    (LR, confidence and schedule bounds), and that rules.py's v1 is lrfind's V1, sweep by sweep."""
    from lrfind.core.robust import V1

    def differ(ours: Callable[..., Any], theirs: Callable[..., Any]) -> list[str]:
        out = []
        for c in cases:
            for sw in c.sweeps:
                a, b = ours(sw.lrs, sw.raw), theirs(sw.lrs, sw.raw)
                if (a.lr, a.confidence, a.falling_from, a.falling_to) != (
                        b.lr, b.confidence, b.falling_from, b.falling_to):  # fmt: skip
                    out.append(f"{c.name}/{sw.seed}")
        return out

    n = sum(len(c.sweeps) for c in cases)
    lines = []
    for what, ours, theirs in (
        ("lrfind's shipped default against rules.py's v2", shipped,
         lambda x, y: prototype(x, y, v2)),
        ("lrfind's V1 against rules.py's v1", lambda x, y: shipped(x, y, V1),
         lambda x, y: prototype(x, y, Rule())),
    ):  # fmt: skip
        d = differ(ours, theirs)
        lines.append(f"{what}: {n - len(d)} / {n} sweeps agree (LR, confidence, bounds)"
                     + (f" (differ: {', '.join(d)})" if d else ""))  # fmt: skip
    return "\n".join(lines)


def _v1() -> Any:
    from lrfind.core.robust import V1

    return V1


def decide(cases: Sequence[Case], v1: list[dict[str, Any]], v2: list[dict[str, Any]]) -> str:
    (m1, o1), (m2, o2) = penalised(cases, v1), penalised(cases, v2)
    replace = m2 < m1 and o2 <= o1
    return (
        f"Pre-registered decision: v1 mean regret {_pct(m1)}, > 1 decade {o1}; v2 mean regret "
        f"{_pct(m2)}, > 1 decade {o2}: "
        + ("v2 REPLACES v1." if replace else "v1 STAYS (v2 does not meet both conditions).")
    )


def _pct(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()

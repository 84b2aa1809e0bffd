"""Re-score every rule on the cached curves and ground truth, in minutes, no training.

    python benchmarks/quality_score.py            # tables; scores to results/suite-scores.json
    python benchmarks/quality_score.py --exact    # also train at exactly the suggested LRs of
                                                  # the new default and the peers (cached), and
                                                  # add those exact numbers
    python benchmarks/quality_score.py --exact-only "new default"   # train one rule's LRs only

Regret is interpolated on the grid (linear in log10 LR) unless marked exact. The new
default is lrfind's shipped rule (lrfind.core.robust*): v2, ported from rules.py's
`Rule(**results/rule-v2.json's rule)`, tuned on both halves, so its rows here are in-sample
(the holdout, quality_holdout_score.py, is its out-of-sample judge); "robust v1 (min / 5)"
is the previous default (`rules.DEFAULT`, chosen on the tuning half only) by the same code; the
leave-one-family-out (LOFO) table on the tuning half scores each tuning family with the
rule benchmarks/quality_lofo.py chose without it (results/suite-lofo.json).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_eval import (
    RULES,
    Case,
    assess,
    evaluate,
    load,
    new_rule,
    reference_points,
    shipped,
    summary,
)
from quality_suite import SUITE
from quality_truth import Cache, mean_score


def suggest(lrs: Sequence[float], raw: Sequence[float], _rule: object = None) -> Any:
    """The shipped rule's answer, with the points its stop rule kept (for the tables below)."""
    from types import SimpleNamespace

    from lrfind.core.robust import RobustRule, replay

    a = shipped(lrs, raw)
    return SimpleNamespace(lr=a.lr, confidence=a.confidence, falling_from=a.falling_from,
                           falling_to=a.falling_to, points=replay(raw, RobustRule())[0])  # fmt: skip


DEFAULT = None

RESULTS = Path(__file__).resolve().parent / "results"
LOFO = RESULTS / "suite-lofo.json"
EXACT_RULES = ("new default", "robust v1 (min / 5)", "fastai minimum", "fastai valley (its default)", "fastai steep",
               "torch-lr-finder", "Lightning", "ignite", "lrfind today (default)",
               "lrfind today, --smoothing 0.05")  # fmt: skip


def lofo_rows(cases: Sequence[Case]) -> list[dict[str, Any]] | None:
    """The tuning half, each family scored by the rule chosen without it (quality_lofo.py)."""
    if not LOFO.exists():
        return None
    from rules import Rule

    folds = json.loads(LOFO.read_text()).get("folds", {})
    rows = []
    for family in sorted({c.family for c in cases if c.half == "tuning"}):
        if family not in folds:
            return None
        rows += evaluate([c for c in cases if c.family == family], new_rule(Rule(**folds[family])))
    return rows


def exact_rows(cases: Sequence[Case], name: str, cache: Cache, train: bool) -> list[dict] | None:
    """The rule's suggestions scored by training at exactly those LRs (None if not all cached)."""
    fn = RULES[name]
    rows = []
    for case in cases:
        for sw in case.sweeps:
            lr = fn(sw.lrs, sw.raw)
            score = None if lr is None else mean_score(SUITE[case.name], lr, cache, compute=train)
            if lr is not None and score is None:
                return None
            rows.append({"task": case.name, "half": case.half, **assess(case.truth, lr, score)})
    return rows


def table(title: str, results: dict[str, list[dict[str, Any]]], halves: Sequence[str]) -> str:
    lines = [f"**{title}**", "",
             "| rule | half | decades off: mean / median | signed mean | regret: mean / median | "
             "worst regret | > 1 decade | no suggestion |", "| --- |" + " --- |" * 7]  # fmt: skip
    for name, rows in results.items():
        for half in halves:
            part = [r for r in rows if half == "all" or r["half"] == half]
            s = summary(part)
            if "dec_mean" not in s:
                lines.append(f"| {name} | {half} | | | | | | {s['none']} |")
                continue
            lines.append(f"| {name} | {half} | {s['dec_mean']:.2f} / {s['dec_median']:.2f} | "
                         f"{s['dec_signed']:+.2f} | {_pct(s['reg_mean'])} / {_pct(s['reg_median'])} | "
                         f"{_pct(s['reg_worst'])} | {s['over_1']} / {s['n']} | {s['none']} |")  # fmt: skip
    return "\n".join(lines)


def tasks_table(cases: Sequence[Case]) -> str:
    lines = ["| task | family | half | what | steps | batch | grid-best LR | its score | "
             "regret 1 decade lower / higher |", "| --- |" + " --- |" * 8]  # fmt: skip
    for c in cases:
        t, truth = SUITE[c.name], c.truth
        i = truth["grid"].index(truth["best_lr"])
        cost = [truth["scores"][j] / truth["best_score"] - 1 if 0 <= j < len(truth["grid"]) else None
                for j in (i - 4, i + 4)]  # fmt: skip
        lines.append(f"| {c.name} | {c.family} | {c.half} | {t.description} | {t.steps} | "
                     f"{t.batch_size} | {truth['best_lr']:.3g} | {truth['best_score']:.4g} | "
                     f"{_pct(cost[0])} / {_pct(cost[1])} |")  # fmt: skip
    return "\n".join(lines)


def confidence_table(cases: Sequence[Case], rule: object) -> str:
    lines = ["| half | confidence | sweeps | decades off: mean | regret: mean / median | worst |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for half in ("tuning", "test", "all"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for c in cases:
            if half != "all" and c.half != half:
                continue
            for sw in c.sweeps:
                s = suggest(sw.lrs, sw.raw, rule)
                groups.setdefault(s.confidence, []).append(assess(c.truth, s.lr))
        for level in ("high", "medium", "low"):
            rows = [r for r in groups.get(level, []) if r["lr"] is not None]
            s = summary(rows)
            if "dec_mean" in s:
                lines.append(f"| {half} | {level} | {s['n']} | {s['dec_mean']:.2f} | "
                             f"{_pct(s['reg_mean'])} / {_pct(s['reg_median'])} | {_pct(s['reg_worst'])} |")  # fmt: skip
    return "\n".join(lines)


def stop_table(cases: Sequence[Case], rule: object) -> str:
    """Where each rule's sweep stops, against the full curve's reference points."""
    from quality_today import today

    lines = ["| half | rule | points: median | stopped before the true minimum | "
             "points past the explosion: median / max |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for half in ("tuning", "test"):
        for name, points in (("lrfind today", lambda x, y: today(x, y, 100).points),
                             ("new default", lambda x, y: suggest(x, y, rule).points)):  # fmt: skip
            pts, early, lag = [], 0, []
            for c in cases:
                if c.half != half:
                    continue
                for sw in c.sweeps:
                    m, e, _ = reference_points(sw.raw)
                    n = points(sw.lrs, sw.raw)
                    pts.append(n)
                    early += n - 1 < m - 1
                    lag.append(n - 1 - e)
            if pts:
                pts.sort()
                lag.sort()
                lines.append(f"| {half} | {name} | {pts[len(pts) // 2]} | {early} / {len(pts)} | "
                             f"{lag[len(lag) // 2]:+d} / {lag[-1]:+d} |")  # fmt: skip
    return "\n".join(lines)


def bounds_table(cases: Sequence[Case], rule: object) -> str:
    """Where the robust curve starts and stops falling, against the suggestion and the grid best."""
    lines = ["| half | sweeps | starts falling: decades below the suggestion, median (range) | "
             "... below the grid best, median | stops falling (its minimum): decades above the "
             "suggestion, median |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for half in ("tuning", "test"):
        below, below_best, above = [], [], []
        for c in cases:
            if c.half != half:
                continue
            for sw in c.sweeps:
                s = suggest(sw.lrs, sw.raw, rule)
                if s.lr is None or s.falling_from is None or s.falling_to is None:
                    continue
                below.append(math.log10(s.lr / s.falling_from))
                below_best.append(math.log10(c.truth["best_lr"] / s.falling_from))
                above.append(math.log10(s.falling_to / s.lr))
        if below:
            med = sorted(below)[len(below) // 2]
            lines.append(f"| {half} | {len(below)} | {med:.2f} ({min(below):.2f} to {max(below):.2f}) "
                         f"| {sorted(below_best)[len(below_best) // 2]:.2f} | "
                         f"{sorted(above)[len(above) // 2]:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exact", action="store_true", help="train at exactly the suggested LRs")
    parser.add_argument("--exact-only", default=None, help="train the exact LRs of this rule only")
    parser.add_argument("--out", type=Path, default=RESULTS / "suite-scores.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cache = Cache()
    cases, pending = load(cache)
    if args.exact_only:
        exact_rows(cases, args.exact_only, cache, train=True)
        return
    results = {name: evaluate(cases, fn) for name, fn in RULES.items()}
    out: dict[str, Any] = {"pending": pending, "interpolated": results}
    parts = [
        f"{len(cases)} tasks scored; pending: {', '.join(pending) or 'none'}",
        tasks_table(cases),
        table("Interpolated regret", results, ("tuning", "test", "all")),
    ]
    lofo = lofo_rows(cases)
    if lofo is not None:
        out["lofo"] = lofo
        others = {k: v for k, v in results.items() if k != "new default"}
        parts.append(table("Leave-one-family-out on the tuning half (each family scored by the "
                           "rule chosen on the other tuning families)",
                           {"new rule (LOFO)": lofo, "new default": results["new default"],
                            **others}, ("tuning",)))  # fmt: skip
    exact: dict[str, list[dict[str, Any]]] = {}
    for name in EXACT_RULES:
        rows = exact_rows(cases, name, cache, train=args.exact)
        if rows is not None:
            exact[name] = rows
    if exact:
        out["exact"] = exact
        parts.append(
            table("Exact regret (trained at the suggested LRs)", exact, ("tuning", "test"))
        )
    parts += [
        confidence_table(cases, DEFAULT),
        stop_table(cases, DEFAULT),
        bounds_table(cases, DEFAULT),
    ]
    args.out.write_text(json.dumps(out, indent=1, allow_nan=True))
    print("\n\n".join(parts))


def _pct(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()

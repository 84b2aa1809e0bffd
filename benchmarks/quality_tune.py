"""Choosing the robust rule's defaults on the TUNING half only (and the LOFO folds), no training.

    python benchmarks/quality_tune.py            # writes benchmarks/results/suite-tuning.json

Fixed before any regret was looked at, from first principles and benchmarks/quality_null.py
(pure-noise plateaus, no suite data): the stop rule's window (5: no batch, nor two in a
row, can move the median over the bar), k = 12 noise scales (the smallest of 8, 10, 12, 16
whose false-stop rate on 1000-step plateaus of Gaussian, lognormal and AR(1) noise is at
most 2%), the noise window (20 differences per block) and the grace (2 x window).

Searched, on the tuning half's sweeps scored by the interpolated ground truth: how far
back up towards the start the median must climb (`fraction`), the offline smoother
(`median_width`, `mean_width`), the trims (`start_trim`, `end_trim`) and the `divisor`.
The objective is the mean regret over the half's sweeps (every task has 3; a sweep with no
suggestion scores the regret of the grid's lowest LR); ties go to the lower median regret. The same search, run on every family but one, gives the
leave-one-family-out (LOFO) rules. The confidence thresholds are then calibrated on the
tuning half (`calibrate`).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_eval import Case, assess, load
from rules import Rule, cut, robust_curve, suggest_on

OUT = Path(__file__).resolve().parent / "results" / "suite-tuning.json"
FIXED = {"window": 5, "k": 12.0, "noise_window": 20, "grace": 10}
SPACE: dict[str, tuple[Any, ...]] = {
    "fraction": (0.25, 0.5, 1.0),
    "median_width": (1, 3, 5, 7, 9, 11, 13),
    "mean_width": (1, 3, 5, 7, 9, 11),
    "start_trim": (0.0, 0.05, 0.1),
    "end_trim": (0, 2, 4),
    "divisor": (3.0, 5.0, 10.0, 20.0, 30.0),
}


# The second method: the point part-way down the descent (a robust "steepest" point);
# the third: the left edge of the minimum's basin, as wide as the noise makes it.
DESCENT = {"descent_level": (0.25, 0.5, 0.75), "divisor": (1.0, 2.0, 3.0)}
BOTTOM = {"bottom_z": (0.5, 1.0, 2.0, 4.0), "divisor": (1.0, 2.0, 3.0, 5.0, 10.0)}


def candidates() -> list[Rule]:
    keys = list(SPACE)
    out = []
    for values in itertools.product(*SPACE.values()):
        base = dict(zip(keys, values, strict=True))
        out.append(Rule(**FIXED, **base))
        if base["divisor"] == SPACE["divisor"][0]:  # once per smoother and trims
            for level, div in itertools.product(*DESCENT.values()):
                out.append(Rule(**FIXED, **{**base, "divisor": div}, method="descent",
                                descent_level=level))  # fmt: skip
            for z, div in itertools.product(*BOTTOM.values()):
                out.append(Rule(**FIXED, **{**base, "divisor": div}, method="bottom", bottom_z=z))
    return out


class Engine:
    """Scores many rules on many sweeps, sharing the cuts and robust curves between them."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.cases = list(cases)
        self.cuts: dict[tuple[str, int, float], Any] = {}
        self.curves: dict[tuple[str, int, float, int, int], list[float]] = {}

    def rows(self, rule: Rule, cases: Sequence[Case] | None = None) -> list[dict[str, Any]]:
        out = []
        for case in cases if cases is not None else self.cases:
            for sw in case.sweeps:
                key = (case.name, sw.seed, rule.fraction)
                if key not in self.cuts:
                    self.cuts[key] = cut(sw.lrs, sw.raw, rule)
                c = self.cuts[key]
                if len(c.ys) < max(rule.window, 5):
                    lr, level = None, "low"
                else:
                    ckey = (*key, rule.median_width, rule.mean_width)
                    if ckey not in self.curves:
                        self.curves[ckey] = robust_curve(c.ys, rule)
                    s = suggest_on(c, self.curves[ckey], rule)
                    lr, level = s.lr, s.confidence
                out.append({"task": case.name, "family": case.family, "half": case.half,
                            "seed": sw.seed, "confidence": level, "points": c.points,
                            **assess(case.truth, lr)})  # fmt: skip
        return out


def regret_matrix(engine: Engine, rules: Sequence[Rule]) -> tuple[np.ndarray, np.ndarray]:
    """regret[rule, sweep] and points[rule, sweep] over all the engine's sweeps; a missing
    suggestion scores the regret of the grid's lowest LR (about what an untrained model scores)."""
    penalty = [
        assess(c.truth, c.truth["grid"][0])["regret"] for c in engine.cases for _ in c.sweeps
    ]
    out = np.empty((len(rules), len(penalty)))
    points = np.empty((len(rules), len(penalty)))
    for i, rule in enumerate(rules):
        rows = engine.rows(rule)
        out[i] = [
            p if r["regret"] is None else r["regret"] for r, p in zip(rows, penalty, strict=True)
        ]
        points[i] = [r["points"] for r in rows]
    return out, points


def select(matrices: tuple[np.ndarray, np.ndarray], rules: Sequence[Rule],
           columns: np.ndarray) -> tuple[Rule, list]:  # fmt: skip
    """The rule with the lowest mean regret over the chosen sweeps (ties: the lowest median
    regret, then the fewest points swept: the stop that fires soonest), and the ten best as
    (mean, median, rule)."""
    part = matrices[0][:, columns]
    means, medians = part.mean(axis=1), np.median(part, axis=1)
    points = matrices[1][:, columns].mean(axis=1)
    order = np.lexsort((points, np.round(medians, 12), np.round(means, 12)))
    top = [(float(means[i]), float(medians[i]), rules[i]) for i in order[:10]]
    return rules[order[0]], top


def calibrate(engine: Engine, rule: Rule, cases: Sequence[Case]) -> tuple[Rule, list[dict]]:
    """hi_snr, lo_snr, sharp_decades: the thresholds that separate high from low most (mean
    regret of low minus high), each level holding at least 10% of the sweeps; within one
    percentage point of the widest gap, the ones that say "high" most often."""
    table: list[dict[str, Any]] = []
    options: list[tuple[float, int, Rule]] = []
    grid = itertools.product((8.0, 12.0, 24.0, 48.0), (2.0, 3.0, 4.0, 6.0), (0.0, 0.5, 0.75, 1.0))
    for hi, lo, sharp in grid:
        if lo >= hi:
            continue
        r = dataclasses.replace(rule, hi_snr=hi, lo_snr=lo, sharp_decades=sharp)
        rows = [x for x in engine.rows(r, cases) if x["regret"] is not None]
        by = {lv: [x["regret"] for x in rows if x["confidence"] == lv] for lv in ("high", "low")}
        if min(len(by["high"]), len(by["low"])) < 0.1 * len(rows):
            continue
        gap = statistics.fmean(by["low"]) - statistics.fmean(by["high"])
        table.append({"hi_snr": hi, "lo_snr": lo, "sharp_decades": sharp, "gap": gap,
                      "high": len(by["high"]),
                      "low": len(by["low"])})  # fmt: skip
        options.append((gap, len(by["high"]), r))
    if not options:
        return rule, table
    # Within one point of the widest gap, the thresholds that say "high" most often.
    top = max(g for g, _, _ in options)
    near = [c for c in options if c[0] >= top - 0.01]
    return max(near, key=lambda c: (c[1], c[0]))[2], table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--no-lofo", action="store_true", help="skip the leave-one-family-out folds"
    )
    args = parser.parse_args(argv)
    cases, pending = load()
    if pending:
        print(
            f"ground truth pending for {len(pending)} task(s): {', '.join(pending)}",
            file=sys.stderr,
        )
    engine = Engine(cases)
    rules = candidates()
    matrix = regret_matrix(engine, rules)
    families = np.array([c.family for c in cases for _ in c.sweeps])
    halves = np.array([c.half for c in cases for _ in c.sweeps])
    tuning = [c for c in cases if c.half == "tuning"]
    chosen, top = select(matrix, rules, np.flatnonzero(halves == "tuning"))
    chosen, conf_table = calibrate(engine, chosen, tuning)
    out: dict[str, Any] = {
        "fixed": FIXED, "space": {k: list(v) for k, v in SPACE.items()},
        "descent_space": {k: list(v) for k, v in DESCENT.items()},
        "bottom_space": {k: list(v) for k, v in BOTTOM.items()}, "candidates": len(rules),
        "tuning_tasks": sorted({c.name for c in tuning}), "pending": pending,
        "chosen": dataclasses.asdict(chosen),
        "top": [{"mean": m, "median": md, "rule": dataclasses.asdict(r)} for m, md, r in top],
        "confidence_calibration": conf_table, "lofo": {},
    }  # fmt: skip
    if not args.no_lofo:
        for family in sorted(set(families)):
            rule, _ = select(matrix, rules, np.flatnonzero(families != family))
            rule, _ = calibrate(engine, rule, [c for c in cases if c.family != family])
            out["lofo"][family] = dataclasses.asdict(rule)
            print(f"LOFO without {family}: {_brief(rule)}", file=sys.stderr)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"chosen on the tuning half ({len(rules)} candidates): {_brief(chosen)}")
    for m, md, r in top:
        print(f"  mean {100 * m:6.1f}%  median {100 * md:5.1f}%  {_brief(r)}")


def _brief(rule: Rule) -> str:
    keys = (*SPACE, "method", "descent_level", "bottom_z", "hi_snr", "lo_snr", "sharp_decades")
    return ", ".join(f"{k}={getattr(rule, k):g}" if not isinstance(getattr(rule, k), str)
                     else f"{k}={getattr(rule, k)}" for k in keys)  # fmt: skip


if __name__ == "__main__":
    main()

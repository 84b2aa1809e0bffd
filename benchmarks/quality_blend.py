"""A tried idea, kept as a record: v2 blended with fastai's `minimum` in log space.

    python benchmarks/quality_blend.py     # seconds, from the cached sweeps and grids

v2 is often low where fastai's `minimum` is high on the same sweep (the second holdout's
worst v2 task is 0.7 decades low, fastai's 0.9 high), so their geometric blend
lr = v2^(1 - w) * minimum^w might cancel part of both errors. The protocol is the suite's:
w is chosen on the tuning half alone (mean interpolated regret, on a grid of 0.05), and also
leaving each tuning family out in turn; the test half and both holdouts are only scored.
Nothing here is shipped: see docs/quality.md for the verdict.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality_holdout2 as h2
from quality_eval import RULES, assess, load, load_cases, shipped, summary
from quality_holdout_score import load_holdout
from quality_truth import Cache

WEIGHTS = [round(0.05 * i, 2) for i in range(21)]


def blended(v2: float | None, other: float | None, w: float) -> float | None:
    if v2 is None or other is None:
        return v2
    return 10 ** ((1 - w) * math.log10(v2) + w * math.log10(other))


def main() -> None:
    suite, _ = load()
    sets = {
        "tuning half": [c for c in suite if c.half == "tuning"],
        "test half": [c for c in suite if c.half == "test"],
        "holdout 1": load_holdout()[0],
        "holdout 2": load_cases(h2.HOLDOUT2, Cache(h2.CACHE), lambda _: "holdout2")[0],
    }
    minimum = RULES["fastai minimum"]
    # (case, v2's LR, fastai minimum's LR) per sweep: each rule runs once per sweep.
    pairs = {
        name: [
            (c, shipped(s.lrs, s.raw).lr, minimum(s.lrs, s.raw)) for c in cases for s in c.sweeps
        ]
        for name, cases in sets.items()
    }

    def rows(items: list, w: float) -> list[dict]:
        return [assess(c.truth, blended(a, b, w)) | {"family": c.family} for c, a, b in items]

    def mean_regret(items: list, w: float) -> float:
        return statistics.fmean(r["regret"] for r in rows(items, w) if r["regret"] is not None)

    tuning = pairs["tuning half"]
    chosen = min(WEIGHTS, key=lambda w: mean_regret(tuning, w))
    # Leave one tuning family out: its sweeps scored with the w chosen on the others.
    lofo = []
    for family in sorted({c.family for c, _, _ in tuning}):
        rest = [p for p in tuning if p[0].family != family]
        w = min(WEIGHTS, key=lambda w: mean_regret(rest, w))
        lofo += rows([p for p in tuning if p[0].family == family], w)
    print(f"w chosen on the tuning half: {chosen} (mean interpolated regret)\n")
    print("| rule | " + " | ".join(sets) + " |")
    print("| --- |" + " --- |" * len(sets))
    for label, w in (("v2 (the default)", 0.0), (f"blend, w = {chosen}", chosen)):
        cells = [_cell(summary(rows(items, w))) for items in pairs.values()]
        print(f"| {label} | " + " | ".join(cells) + " |")
    print(f"\nleave-one-family-out on the tuning half: {_cell(summary(lofo))}")
    print("(mean / median regret, suggestions more than a decade off; interpolated on the grid)")


def _cell(s: dict) -> str:
    return f"{100 * s['reg_mean']:.1f}% / {100 * s['reg_median']:.1f}%, {s['over_1']}"


if __name__ == "__main__":
    main()

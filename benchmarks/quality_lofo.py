"""Leave-one-family-out on the tuning half: each tuning family scored by the rule chosen without it.

    python benchmarks/quality_lofo.py     # writes benchmarks/results/suite-lofo.json (~20 min, 1 core)

The same search as benchmarks/quality_tune.py (the same candidates, objective and
confidence calibration), but run on the tuning half's families minus one, then scored on
the family left out; no test-half sweep is looked at. The spread between these numbers and
the in-sample ones says how much of the tuning-half score is the search fitting its own
families.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_eval import load, summary
from quality_tune import Engine, calibrate, candidates, regret_matrix, select

OUT = Path(__file__).resolve().parent / "results" / "suite-lofo.json"


def main() -> None:
    started = time.perf_counter()
    cases, _ = load()
    tuning = [c for c in cases if c.half == "tuning"]
    engine = Engine(tuning)
    rules = candidates()
    matrix = regret_matrix(engine, rules)
    families = np.array([c.family for c in tuning for _ in c.sweeps])
    out: dict = {"folds": {}, "rows": []}
    for family in sorted(set(families)):
        rule, _ = select(matrix, rules, np.flatnonzero(families != family))
        rule, _ = calibrate(engine, rule, [c for c in tuning if c.family != family])
        rows = engine.rows(rule, [c for c in tuning if c.family == family])
        out["folds"][family] = dataclasses.asdict(rule)
        out["rows"] += rows
        s = summary(rows)
        print(f"{family}: mean regret {100 * s['reg_mean']:.1f}%, chosen without it: "
              f"divisor={rule.divisor:g} median_width={rule.median_width} "
              f"mean_width={rule.mean_width} fraction={rule.fraction:g} method={rule.method}",
              file=sys.stderr)  # fmt: skip
    out["wall_s"] = time.perf_counter() - started
    OUT.write_text(json.dumps(out, indent=1))
    s = summary(out["rows"])
    print(f"LOFO, tuning half: decades off {s['dec_mean']:.2f} / {s['dec_median']:.2f}, regret "
          f"{100 * s['reg_mean']:.1f}% / {100 * s['reg_median']:.1f}%, worst "
          f"{100 * s['reg_worst']:.1f}%, > 1 decade {s['over_1']} / {s['n']} "
          f"({out['wall_s']:.0f} s)")  # fmt: skip


if __name__ == "__main__":
    main()

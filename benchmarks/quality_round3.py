"""Round 3: the candidate v3 (chosen on all 49 tasks seen so far), judged on the second holdout.

    nice -n 10 python benchmarks/quality_round3.py tune    # results/rule-v3.json (+ 49-task LOFO)
    python benchmarks/quality_round3.py score              # results/holdout2-scores.json
    python benchmarks/quality_round3.py score --set holdout1   # exact regret on the first holdout

`tune` runs round 2's search (quality_tune.SPACE, DESCENT, BOTTOM; the same objective and
confidence calibration) on the 39 suite tasks and the 10 tasks of the first holdout, 147
sweeps; it never reads the second holdout (quality_holdout2.py). It also runs that search
leaving out one family at a time (26 folds) and scores each family with the rule chosen
without it: an out-of-sample estimate of the search itself, on all 49 tasks.

`score` scores every rule on the second holdout, interpolated on the grid and, for lrfind's
rules (v2, v3) and fastai's two, trained at exactly the suggested LR (2 seeds, the task's
budget, cached in the holdout's cache), and applies the decision pre-registered in
quality_holdout2.py: v3 replaces v2 only if its mean exact regret is lower and it has no more
suggestions more than 1 decade off. The exact table's last row is the noise floor: each task
trained at its grid-best LR x 10^+-0.05, scored the same way. `--set holdout1` and `--set suite` give the same tables on the first
holdout and on the suite's two halves, with exact regret, for the record (no decision: those
sets are tuning data now).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_eval import RULES, Case, assess, evaluate, load, load_cases, shipped, summary
from quality_holdout_score import (
    NAMES,
    PEER_NAMES,
    _pct,
    confidence_table,
    load_holdout,
    penalised,
    rules_table,
)
from quality_truth import RESULTS, Cache, mean_score
from quality_tune import Engine, _brief, calibrate, candidates, regret_matrix, select
from rules import Rule
from rules import suggest as prototype

V2 = RESULTS / "rule-v2.json"
V3 = RESULTS / "rule-v3.json"
FLOOR = 0.05  # decades from the grid best, for the noise floor
EXACT = (
    "v2 (the shipped default)",
    "v3 (candidate)",
    "fastai minimum",
    "fastai valley (its default)",
)


def seen_cases() -> list[Case]:
    """The 49 tasks rules have been chosen on or judged on so far: the suite and holdout 1."""
    suite, pending = load()
    first, pending1 = load_holdout()
    if pending or pending1:
        sys.exit(f"ground truth pending for {', '.join(pending + pending1)}")
    return suite + first


def tune(out_path: Path = V3) -> None:
    started = time.perf_counter()
    cases = seen_cases()
    engine = Engine(cases)
    rules = candidates()
    matrix = regret_matrix(engine, rules)
    chosen, top = select(matrix, rules, np.arange(matrix[0].shape[1]))
    chosen, conf_table = calibrate(engine, chosen, cases)
    v2 = json.loads(V2.read_text())["rule"]
    rule = dataclasses.asdict(chosen)
    families = np.array([c.family for c in cases for _ in c.sweeps])
    folds, lofo_rows = {}, []
    for family in sorted(set(families)):
        fold, _ = select(matrix, rules, np.flatnonzero(families != family))
        fold, _ = calibrate(engine, fold, [c for c in cases if c.family != family])
        folds[family] = dataclasses.asdict(fold)
        lofo_rows += engine.rows(fold, [c for c in cases if c.family == family])
    s = summary(lofo_rows)
    out: dict[str, Any] = {
        "name": "v3", "tuned_on": f"the 39 suite tasks and the 10 of holdout 1, {len(families)} sweeps",
        "tasks": sorted(c.name for c in cases), "candidates": len(rules), "rule": rule,
        "same_as_v2": rule == v2,
        "top": [{"mean": m, "median": md, "rule": dataclasses.asdict(r)} for m, md, r in top],
        "confidence_calibration": conf_table, "lofo_folds": folds, "lofo_rows": lofo_rows,
        "lofo_summary": s, "seconds": time.perf_counter() - started,
    }  # fmt: skip
    out_path.write_text(json.dumps(out, indent=1))
    print(f"v3, chosen on {len(cases)} tasks ({len(rules)} candidates): {_brief(chosen)}")
    print("the same as v2" if rule == v2 else "differs from v2: " + ", ".join(
        f"{k} {v2[k]!r} -> {rule[k]!r}" for k in rule if rule[k] != v2.get(k)))  # fmt: skip
    for m, md, r in top[:5]:
        print(f"  mean {100 * m:6.1f}%  median {100 * md:5.1f}%  {_brief(r)}")
    print(f"LOFO over all 49 tasks ({len(folds)} families): decades off {s['dec_mean']:.2f} / "
          f"{s['dec_median']:.2f}, regret {_pct(s['reg_mean'])} / {_pct(s['reg_median'])}, worst "
          f"{_pct(s['reg_worst'])}, > 1 decade {s['over_1']} / {s['n']}, {s['none']} none")  # fmt: skip


def load_holdout2() -> tuple[list[Case], list[str], Cache, dict[str, Any]]:
    from quality_holdout2 import CACHE, HOLDOUT2

    cache = Cache(CACHE)
    cases, pending = load_cases(HOLDOUT2, cache, lambda _: "holdout2")
    return cases, pending, cache, dict(HOLDOUT2)


def answers() -> dict[str, Callable[[Sequence[float], Sequence[float]], float | None]]:
    """name -> fn(lrs, raw) -> suggested LR or None."""
    v2 = Rule(**json.loads(V2.read_text())["rule"])
    v3 = Rule(**json.loads(V3.read_text())["rule"])
    out: dict[str, Callable[..., float | None]] = {name: RULES[key] for name, key in NAMES.items()}
    out["v2 (the shipped default)"] = RULES["new default"]
    out["v2, by rules.py (check)"] = lambda x, y: prototype(x, y, v2).lr
    out["v3 (candidate)"] = lambda x, y: prototype(x, y, v3).lr
    for name in PEER_NAMES:
        out[name] = RULES[name]
    return out


def exact_rows(cases: Sequence[Case], fn: Callable[..., float | None], tasks: dict[str, Any],
               cache: Cache) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for case in cases:
        for sw in case.sweeps:
            lr = fn(sw.lrs, sw.raw)
            score = None if lr is None else mean_score(tasks[case.name], lr, cache)
            rows.append({"task": case.name, "family": case.family, "half": case.half,
                         "seed": sw.seed, **assess(case.truth, lr, score)})  # fmt: skip
    return rows


def floor_rows(cases: Sequence[Case], tasks: dict[str, Any], cache: Cache) -> list[dict[str, Any]]:
    """The noise floor: each task trained at its grid-best LR x 10^+-0.05 (one row per side),
    scored like a suggestion. Training is chaotic enough that an LR a twentieth of a decade from
    the grid best can score much worse than it; no rule can be expected to beat this."""
    rows = []
    for case in cases:
        for side in (-FLOOR, FLOOR):
            lr = case.truth["best_lr"] * 10**side
            score = mean_score(tasks[case.name], lr, cache)
            rows.append({"task": case.name, "family": case.family, "half": case.half,
                         "seed": side, **assess(case.truth, lr, score)})  # fmt: skip
    return rows


def score(which: str, only: Sequence[str] = ()) -> None:
    if which == "holdout2":
        cases, pending, cache, tasks = load_holdout2()
        if pending:
            sys.exit(f"holdout 2 pending: {', '.join(pending)}")
    elif which == "holdout1":
        from quality_holdout import CACHE, HOLDOUT

        cases, pending = load_holdout()
        cache, tasks = Cache(CACHE), dict(HOLDOUT)
    else:  # the suite, both halves
        from quality_suite import SUITE

        cache, tasks = Cache(), dict(SUITE)
        cases, pending = load(cache)
    import torch

    torch.set_num_threads(1)
    fns = answers()
    interp = {name: evaluate(cases, fn) for name, fn in fns.items()}
    exact = {
        name: exact_rows(cases, fns[name], tasks, cache)
        for name in only or EXACT
        if name != "floor"
    }
    if not only or "floor" in only:
        exact[f"noise floor: the grid best x 10^+-{FLOOR:g}"] = floor_rows(cases, tasks, cache)
    if only:  # a part of the training, run beside another part: the tables come later
        return
    n = sum(len(c.sweeps) for c in cases)
    print(f"{which}: {len(cases)} tasks, {n} sweeps\n")
    print("**Interpolated regret**\n")
    print(rules_table(cases, interp), "\n")
    print("**Exact regret (trained at the suggested LR, 2 seeds)**\n")
    print(rules_table(cases, exact), "\n")
    if which == "suite":
        print(rules_table([c for c in cases if c.half == "tuning"],
                          {k: [r for r in v if r["half"] == "tuning"] for k, v in exact.items()}),
              "\n\n(the tuning half, above; the test half, below)\n")  # fmt: skip
        print(
            rules_table(
                [c for c in cases if c.half == "test"],
                {k: [r for r in v if r["half"] == "test"] for k, v in exact.items()},
            ),
            "\n",
        )
    print(per_task(cases, exact), "\n")
    v3 = Rule(**json.loads(V3.read_text())["rule"])
    print(confidence_table(cases, {"v2": shipped, "v3": lambda x, y: prototype(x, y, v3)}), "\n")
    agree = sum(a["lr"] == b["lr"] for a, b in zip(interp["v2 (the shipped default)"],
                                                    interp["v2, by rules.py (check)"], strict=True))  # fmt: skip
    print(f"lrfind's shipped default and rules.py's v2 agree on {agree} / {n} sweeps\n")
    verdict = None
    if which == "holdout2":
        (m2, o2) = penalised(cases, exact["v2 (the shipped default)"])
        (m3, o3) = penalised(cases, exact["v3 (candidate)"])
        same = json.loads(V3.read_text())["same_as_v2"]
        replace = not same and m3 < m2 and o3 <= o2
        verdict = (f"Pre-registered decision: v2 mean exact regret {_pct(m2)}, > 1 decade {o2}; v3 "
                   f"{_pct(m3)}, > 1 decade {o3}: "
                   + ("v3 is v2: nothing changes." if same else
                      "v3 REPLACES v2." if replace else "v2 STAYS (v3 does not meet both conditions)."))  # fmt: skip
        alike = sum(a["lr"] == b["lr"] for a, b in zip(exact["v2 (the shipped default)"],
                                                       exact["v3 (candidate)"], strict=True))  # fmt: skip
        verdict += f" (v3 suggests the same LR as v2 on {alike} of {n} sweeps.)"
        print(verdict)
    out = (
        RESULTS
        / {
            "holdout2": "holdout2-scores.json",
            "holdout1": "holdout-exact.json",
            "suite": "suite-exact.json",
        }[which]
    )
    out.write_text(json.dumps({"interpolated": interp, "exact": exact, "decision": verdict},
                              indent=1, allow_nan=True))  # fmt: skip


def per_task(cases: Sequence[Case], exact: dict[str, list[dict[str, Any]]]) -> str:
    names = list(exact)
    lines = ["| task | grid-best LR | " + " | ".join(f"{n}: decades / exact regret" for n in names) + " |",
             "| --- | --- |" + " --- |" * len(names)]  # fmt: skip
    for c in cases:
        cells = []
        for name in names:
            rows = [r for r in exact[name] if r["task"] == c.name and r["lr"] is not None]
            if not rows:
                cells.append("none")
                continue
            cells.append(f"{statistics.fmean(r['decades'] for r in rows):+.2f} / "
                         f"{_pct(statistics.fmean(r['regret'] for r in rows))}")  # fmt: skip
        lines.append(f"| {c.name} | {c.truth['best_lr']:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tune", help="choose v3 on the 49 seen tasks (and the 49-task LOFO)")
    p = sub.add_parser("score", help="score every rule on holdout 2 (or holdout 1)")
    p.add_argument("--set", choices=("holdout2", "holdout1", "suite"), default="holdout2")
    p.add_argument(
        "--only",
        default="",
        help="train only these exact rows (comma-separated "
        "names from EXACT, or 'floor'), for two processes side by side; no tables",
    )
    args = parser.parse_args(argv)
    if args.command == "tune":
        tune()
    else:
        score(args.set, [x for x in args.only.split(",") if x])


if __name__ == "__main__":
    main()

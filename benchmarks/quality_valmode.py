"""The default's suggestion in validation mode (build() returns a val_loader), measured.

    nice -n 10 python benchmarks/quality_valmode.py --sweep suite   # record what the cache lacks
    python benchmarks/quality_valmode.py                             # tables, no training
    nice -n 10 python benchmarks/quality_valmode.py --exact          # exact regret, judging set
    nice -n 10 python benchmarks/quality_valmode.py --probe holdout4 # probes from its suggestions
    python benchmarks/quality_valmode.py --refine holdout4           # --refine from either curve

Why: when build() returns a `val_loader`, lrfind's sweep records, after each step, the mean
loss over it (in eval mode, BatchNorm on batch statistics) instead of the training batch's
loss, and its default rule (v2) reads that curve. Every range test of the suite and of the
three holdouts is a training-loss sweep: v2 was chosen and judged on training-loss curves
only. A validation curve is another shape (averaged over many rows, so far less noisy; it
rises where the model starts to overfit or to blow up), and v2's noise-scaled thresholds
and its basin's edge may not mean the same on it. Users who give a val_loader (the README's
`build_with_val`, Smith's original test) get that curve.

What is recorded (written down and committed before any of it was computed): for every task
of the suite and of the three holdouts (69 tasks), seeds 0-2, the task's model and loader as
in quality_truth.py's sweeps, with `val_loader` = the task's validation split (the data the
ground truth scores) in batches of 256, in order, through lrfind's public `find_lr`, 1e-7 to
10, 100 steps, `diverge_threshold=1e30` and smoothing 0 (the sweep runs past divergence, so
that the stop rule is replayed offline, as for the training-loss sweeps). Cached in
results/valmode-cache.json. Scored against the same ground truth (interpolated regret).

The decision, fixed before anything was computed. The judging set is the second and third
holdouts (60 sweeps), on which v2 was never chosen. Compared: v2 replayed on the
validation-mode curves, and v2 on the same tasks' training-loss sweeps (cached; the training
is the same: the validation pass changes neither the weights nor the data order).
- If on the judging set v2 on the validation curves has a higher mean interpolated regret
  than v2 on the training-loss curves, or more suggestions more than 1 decade from the grid
  best, then in validation mode lrfind's stop rule and suggestion will read the training
  loss (recorded at every step next to the validation loss; it is computed anyway), and the
  validation curve is kept in the report and drawn on the plot.
- Otherwise validation mode stays as it is.
Either way, every set's numbers are reported (docs/quality.md), and nothing of v2 is re-tuned
on these curves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import chunks
from quality_eval import assess, shipped
from quality_peers import PEERS
from quality_probe import SETS, compute, keyed_sweeps, read_json, save_entry, task_set
from quality_suite import SuiteTask
from quality_truth import RESULTS, SWEEP, SWEEP_SEEDS, Cache

VALMODE = RESULTS / "valmode-cache.json"
VAL_PROBES = RESULTS / "probe-valmode-cache.json"  # probes from v2 on the validation curves
VAL_BATCH = 256
JUDGING = ("holdout2", "holdout3")


def sweep(task: SuiteTask, seed: int) -> dict[str, Any]:
    """A validation-mode range test past divergence: lrs and the per-step validation loss."""
    from lrfind import find_lr

    model, loader = task.build(seed)
    val = [batch for _, batch in chunks(task.parts()[1], VAL_BATCH)]
    result = find_lr(model, loader, task.loss_fn, optimizer=task.make_optimizer, val_loader=val,
                     seed=seed, device="cpu", diverge_threshold=1e30, smoothing=0.0, **SWEEP)  # fmt: skip
    h = result.history
    return {"lrs": list(h.lrs), "losses": [float(f"{v:.6g}") for v in h.losses]}


def _load() -> dict[str, Any]:
    return read_json(VALMODE)


def record(which: str) -> None:
    """Every validation-mode sweep of `which` that the cache lacks, saved after each."""
    import torch

    torch.set_num_threads(1)
    tasks, path, _ = task_set(which)
    cache = Cache(path)
    done = _load()
    for name, task in tasks.items():
        fp = cache.section(task)["fingerprint"]
        for seed in SWEEP_SEEDS:
            key = f"{which}|{name}|{fp}|{seed}"
            if key not in done:
                done = save_entry(VALMODE, key, sweep(task, seed))
        print(f"{which} {name}: swept", file=sys.stderr, flush=True)


def _fastai(lrs: Any, raw: Any) -> float | None:
    return PEERS["fastai minimum"](lrs, raw, SWEEP["steps"]).lr


RULES = {"v2 (the default)": lambda lrs, raw: shipped(lrs, raw).lr, "fastai minimum": _fastai}


def _refined(e: dict[str, Any], pick: Any) -> float | None:
    """A probe rule's LR from one sweep's probes (the sweep's own suggestion if unprobed)."""
    from quality_probe import OFFSETS

    ok = e["s"] is not None and len(e["probes"]) == len(OFFSETS)
    return e["s"] * 10 ** pick(e) if ok else e["s"]


def refine_table(which: str, exact_too: bool = False) -> None:
    """--refine as it ships (probes around v2 on the training loss) against the candidate
    (probes around v2 on the validation curve), with v2 and fastai's `minimum` on both
    curves, over the sweeps of `which` that have both probe sets."""
    from quality_probe import PROBES, VARIANTS
    from quality_truth import mean_score

    climb = VARIANTS["climb both (the rule)"]
    by_val = VARIANTS["climb by validation loss"]
    train_probes, val_probes, curves = read_json(PROBES), read_json(VAL_PROBES), _load()
    answers: dict[str, list[tuple[Any, float | None]]] = {}
    for _, _, case, sw, key in keyed_sweeps(which):
        tp, vp, val = train_probes.get(key), val_probes.get(key), curves.get(key)
        if tp is None or vp is None or val is None:
            continue
        got = {
            "v2, training loss (no probe)": tp["s"],
            "v2, validation curve (no probe)": vp["s"],
            "--refine as it ships (from the training loss)": _refined(tp, climb),
            "candidate: --refine from the validation curve": _refined(vp, climb),
            "climb by validation loss, from the validation curve": _refined(vp, by_val),
            "fastai minimum, training loss": _fastai(sw.lrs, sw.raw),
            "fastai minimum, validation curve": _fastai(val["lrs"], val["losses"]),
        }
        for label, lr in got.items():
            answers.setdefault(label, []).append((case, lr))
    tasks, path, _ = task_set(which)
    cache = Cache(path)  # where exact scores are kept (and trained, if missing)
    n = len(next(iter(answers.values()), []))
    print(f"{which}, {n} sweeps: interpolated regret mean / median, signed decades, > 1 decade")
    print("| rule | interpolated | exact |" if exact_too else "| rule | interpolated |")
    print("| --- | --- | --- |" if exact_too else "| --- | --- |")
    for label, pairs in answers.items():
        cells = [_cell([assess(c.truth, lr) for c, lr in pairs])]
        if exact_too and "fastai" not in label and "climb by" not in label:
            scored = [(c, lr, None if lr is None else mean_score(tasks[c.name], lr, cache))
                      for c, lr in pairs]  # fmt: skip
            cells.append(_cell([assess(c.truth, lr, sc) for c, lr, sc in scored]))
        elif exact_too:
            cells.append("")
        print(f"| {label} | " + " | ".join(cells) + " |")


def scored() -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """{half: {rule: {"train" | "validation": assess() rows}}} over sweeps in both caches."""
    done = _load()
    out: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for which in SETS:
        for _, _, case, sw, key in keyed_sweeps(which):
            val = done.get(key)
            if val is None:
                continue
            for rule, fn in RULES.items():
                cell = out.setdefault(case.half, {}).setdefault(rule, {})
                cell.setdefault("train", []).append(assess(case.truth, fn(sw.lrs, sw.raw)))
                cell.setdefault("validation", []).append(
                    assess(case.truth, fn(val["lrs"], val["losses"]))
                )
    return out


def exact() -> None:
    """v2's exact regret on the judging set, on both curves: each suggestion trained at exactly
    its LR (the ground truth's seeds and budget; cached in the set's cache, trained if not)."""
    import torch
    from quality_truth import mean_score

    torch.set_num_threads(1)
    done, v2 = _load(), RULES["v2 (the default)"]
    got: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
    for which in JUDGING:
        for tasks, cache, case, sw, key in keyed_sweeps(which):
            val = done[key]
            for curve, (lrs, raw) in {"train": (sw.lrs, sw.raw),
                                      "validation": (val["lrs"], val["losses"])}.items():  # fmt: skip
                lr = v2(lrs, raw)
                score = None if lr is None else mean_score(tasks[case.name], lr, cache)
                got[curve].append(assess(case.truth, lr, score))
    print(f"Exact regret on {' + '.join(JUDGING)} ({len(got['train'])} sweeps):")
    for curve, rows in got.items():
        print(f"  v2 on the {curve} curves: {_cell(rows)}")


def _cell(rows: list[dict[str, Any]]) -> str:
    got = [r for r in rows if r["lr"] is not None]
    if not got:
        return "no suggestion"
    reg = [r["regret"] for r in got]
    signed = statistics.fmean(r["decades"] for r in got)
    off = sum(abs(r["decades"]) > 1 for r in got)
    none = len(rows) - len(got)
    return (f"{100 * statistics.fmean(reg):.1f}% / {100 * statistics.median(reg):.1f}%, "
            f"{signed:+.2f} dec, {off} off" + (f", {none} none" if none else ""))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", choices=SETS, help="record the validation-mode sweeps of a set")
    parser.add_argument("--exact", action="store_true", help="exact regret on the judging set")
    parser.add_argument("--probe", choices=SETS, help="probes from the validation curves' v2")
    parser.add_argument("--refine", choices=SETS, help="--refine from either curve, on a set")
    parser.add_argument("--refine-exact", action="store_true", help="with --refine: train each")
    args = parser.parse_args(argv)
    if args.sweep:
        record(args.sweep)
        return
    if args.probe:  # the candidate's probes: quality_probe.py's, around v2 on these curves
        compute(args.probe, VAL_PROBES, _load())
        return
    if args.refine:
        import torch

        torch.set_num_threads(1)
        refine_table(args.refine, args.refine_exact)
        return
    if args.exact:
        exact()
        return
    table = scored()
    halves = [
        h for h in ("tuning", "test", "holdout", "holdout2", "holdout3", "holdout4") if h in table
    ]
    print("Interpolated regret mean / median, signed decades, suggestions > 1 decade off.\n")
    print("| rule | curve | " + " | ".join(f"{h} ({len(table[h][next(iter(table[h]))]['train'])})"
                                      for h in halves) + " |")  # fmt: skip
    print("| --- | --- |" + " --- |" * len(halves))
    for rule in RULES:
        for curve in ("train", "validation"):
            cells = [_cell(table[h][rule][curve]) for h in halves]
            print(f"| {rule} | {curve} | " + " | ".join(cells) + " |")
    judged = [h for h in JUDGING if h in table]
    if judged:
        v2 = table[judged[0]]["v2 (the default)"]
        both = {c: [r for h in judged for r in table[h]["v2 (the default)"][c]] for c in v2}
        print(f"\nThe decision's set ({' + '.join(judged)}, {len(both['train'])} sweeps):")
        for curve, rows in both.items():
            print(f"  v2 on the {curve} curves: {_cell(rows)}")


if __name__ == "__main__":
    main()

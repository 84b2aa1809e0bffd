"""Ground truth and raw range-test curves of the generalisation suite, cached.

    nice -n 10 python benchmarks/quality_truth.py                 # everything missing from the cache
    nice -n 10 python benchmarks/quality_truth.py --phase sweeps  # only the range tests (minutes)
    python benchmarks/quality_truth.py --tasks linreg_sgd,wine_softmax_adam --phase truth
    python benchmarks/quality_truth.py --status                    # what is cached, what is left

For every task of benchmarks/quality_suite.py:

1. Ground truth: train at a constant LR for the task's budget on a
   quarter-decade grid from 1e-5 (1e-6 for Adam, AdamW, RMSprop) to 10, seeds
   0 and 1 (init and data order); a grid whose best LR sits on its lowest two
   points is extended a decade lower (down to 1e-8). Each run scores its
   validation loss; a run that ends worse than it started, or not finite,
   scores its starting loss (tasks with `score="exp"` score exp(loss)).
2. Range tests: lrfind's public `find_lr`, 1e-7 to 10, 100 steps, seeds 0, 1
   and 2, smoothing 0 and `diverge_threshold=1e30`, so that the sweep runs past
   divergence (to a non-finite loss or the end) and any stop rule can be
   replayed offline on the same raw losses. lrfind's own default run (its stop
   rule, its suggestion) is kept next to each, to check the replay of its rule.

Everything goes to benchmarks/results/suite-cache.json, keyed by task
fingerprint, LR and seed, and is saved after every entry: a killed run resumes
where it stopped. Run it on one core (`--threads 1`, the default) with nice.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_suite import SUITE, SuiteTask, compute_loss

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = RESULTS / "suite-cache.json"
SWEEP = {"start_lr": 1e-7, "end_lr": 10.0, "steps": 100}
SWEEP_SEEDS = (0, 1, 2)
TRAIN_SEEDS = (0, 1)
LOWEST = -32  # 1e-8, in quarter decades


def lr_key(lr: float, seed: int) -> str:
    return f"{lr:.6g}|{seed}"


class Cache:
    """Trained runs and swept curves per task, saved (atomically) after every new entry."""

    def __init__(self, path: Path = CACHE) -> None:
        self.path = path
        self.data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        self.fingerprints: dict[str, str] = {}

    def section(self, task: SuiteTask) -> dict[str, Any]:
        entry = self.data.setdefault(task.name, {})
        if task.name not in self.fingerprints:
            self.fingerprints[task.name] = task.fingerprint()
        fp = self.fingerprints[task.name]
        if entry.get("fingerprint") != fp:  # the task changed: its old results mean nothing
            entry.clear()
            entry.update(fingerprint=fp, train={}, sweeps={}, lrfind={})
        return entry

    def save(self) -> None:
        """Merge with what other processes saved meanwhile (under a lock), then replace the file."""
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.exists():
                _merge(self.data, json.loads(self.path.read_text()))
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, allow_nan=True, separators=(",", ":")))
            os.replace(tmp, self.path)


def _merge(mine: dict[str, Any], disk: dict[str, Any]) -> None:
    """Add to `mine` the entries that only `disk` has (same task fingerprint)."""
    for name, theirs in disk.items():
        ours = mine.setdefault(name, theirs)
        if ours is theirs or not isinstance(ours, dict):
            continue
        if name.startswith("_"):
            for k, v in theirs.items():
                ours.setdefault(k, v)
        elif ours.get("fingerprint") == theirs.get("fingerprint"):
            for key in ("train", "sweeps", "lrfind"):
                # In place: callers hold references to these dicts.
                part = ours.setdefault(key, {})
                for k, v in theirs.get(key, {}).items():
                    part.setdefault(k, v)


def train(task: SuiteTask, lr: float, seed: int) -> list[float]:
    """[validation loss after the budget at constant `lr` (NaN once diverged), before, steps run,
    wall seconds, CPU seconds (on one thread: the time on an idle core)]."""
    t0, c0 = time.perf_counter(), time.process_time()
    model, loader = task.build(seed)
    start = task.validate(model)
    optimizer = task.make_optimizer(model.parameters(), lr)
    model.train()
    done = 0
    while done < task.steps:
        for batch in loader:
            loss = compute_loss(model, batch, task.loss_fn)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if not math.isfinite(loss.item()):  # diverged: nothing more to learn from this run
                return [math.nan, start, done, time.perf_counter() - t0, time.process_time() - c0]
            if done == task.steps:
                break
    return [task.validate(model), start, done, time.perf_counter() - t0, time.process_time() - c0]


def run_score(task: SuiteTask, run: list[float]) -> float:
    """A run that ends worse than it started (or not finite) scores its starting loss."""
    val, start = run[0], run[1]
    value = val if math.isfinite(val) and val < start else start
    return math.exp(value) if task.score == "exp" else value


def mean_score(task: SuiteTask, lr: float, cache: Cache, compute: bool = True) -> float | None:
    """Mean score over the training seeds at `lr`, training what the cache lacks (if `compute`)."""
    runs = cache.section(task)["train"]
    scores = []
    for seed in TRAIN_SEEDS:
        key = lr_key(lr, seed)
        if key not in runs:
            if not compute:
                return None
            runs[key] = train(task, lr, seed)
            cache.save()
        scores.append(run_score(task, runs[key]))
    return statistics.fmean(scores)


def _failed(task: SuiteTask, lr: float, cache: Cache) -> bool:
    runs = cache.section(task)["train"]
    keys = [lr_key(lr, seed) for seed in TRAIN_SEEDS]
    if not all(k in runs for k in keys):
        return False
    return all(not (math.isfinite(runs[k][0]) and runs[k][0] < runs[k][1]) for k in keys)


def start_score(task: SuiteTask, cache: Cache) -> float:
    """The mean score of an untrained model (what a failed run scores)."""
    runs = cache.section(task)["train"]
    starts = {}
    for key, run in runs.items():
        if int(key.split("|")[1]) in TRAIN_SEEDS:
            starts[key.split("|")[1]] = run[1]
    values = [math.exp(v) if task.score == "exp" else v for v in starts.values()]
    return statistics.fmean(values)


def grid_from(k: int) -> list[float]:
    return [10 ** (i / 4) for i in range(k, 5)]


def ground_truth(task: SuiteTask, cache: Cache, compute: bool = True) -> dict[str, Any] | None:
    """The grid, its mean scores, the best LR and score; None when not all cached (compute=False)."""
    k = round(4 * math.log10(task.grid_low))
    while True:
        grid = grid_from(k)
        scores: list[float | None] = []
        failures, succeeded = 0, False
        for lr in grid:
            if succeeded and failures >= 2:
                # Above a grid point that trained, two in a row where every seed ended no
                # better than it started: higher LRs are not trained and score the start
                # (this saves the long failed runs; a tiny LR may "fail" too, hence `succeeded`).
                scores.append(start_score(task, cache))
                continue
            scores.append(mean_score(task, lr, cache, compute))
            failed = _failed(task, lr, cache)
            failures = failures + 1 if failed else 0
            succeeded = succeeded or (scores[-1] is not None and not failed)
        if any(s is None for s in scores):
            return None
        best = min(range(len(grid)), key=scores.__getitem__)
        if best >= 2 or k <= LOWEST:
            break
        k -= 4  # the best sits at the bottom of the grid: look a decade lower
    return {"grid": grid, "scores": scores, "best_lr": grid[best], "best_score": scores[best]}


def sweep(task: SuiteTask, seed: int, past_divergence: bool) -> dict[str, Any]:
    """lrfind's range test through its public API; raw losses (and its own suggestion)."""
    from lrfind import find_lr

    model, loader = task.build(seed)
    settings: dict[str, Any] = dict(SWEEP, seed=seed, device="cpu")
    if past_divergence:
        settings.update(diverge_threshold=1e30, smoothing=0.0)
    factory = task.make_optimizer
    result = find_lr(model, loader, task.loss_fn, optimizer=factory, **settings)
    h = result.history
    return {"lrs": list(h.lrs), "losses": list(h.losses), "stop": result.stop_reason,
            "suggested_lr": result.suggested_lr}  # fmt: skip


def do_sweeps(task: SuiteTask, cache: Cache) -> None:
    section = cache.section(task)
    for seed in SWEEP_SEEDS:
        if str(seed) not in section["sweeps"]:
            section["sweeps"][str(seed)] = sweep(task, seed, past_divergence=True)
            cache.save()
        if str(seed) not in section["lrfind"]:
            own = sweep(task, seed, past_divergence=False)
            section["lrfind"][str(seed)] = {k: own[k] for k in ("suggested_lr", "stop")} | {
                "points": len(own["lrs"])
            }
            cache.save()


def status(cache: Cache, names: list[str]) -> str:
    rows = []
    for name in names:
        task = SUITE[name]
        section = cache.section(task)
        truth = ground_truth(task, cache, compute=False)
        have = len(section["train"])
        best = "pending" if truth is None else f"best {truth['best_lr']:.3g}"
        rows.append(f"{name:28s} runs {have:4d}  sweeps {len(section['sweeps'])}/3  {best}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(SUITE), help="comma-separated task names")
    parser.add_argument("--phase", choices=("all", "sweeps", "truth"), default="all")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--status", action="store_true", help="print what is cached and exit")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the suite: {', '.join(SUITE)}")
    RESULTS.mkdir(exist_ok=True)
    cache = Cache()
    if args.status:
        print(status(cache, names))
        return
    start = time.perf_counter()
    if args.phase in ("all", "sweeps"):
        for name in names:
            do_sweeps(SUITE[name], cache)
            print(f"{name}: sweeps done at {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.phase in ("all", "truth"):
        for name in names:
            t0 = time.perf_counter()
            truth = ground_truth(SUITE[name], cache)
            assert truth is not None
            print(f"{name}: ground truth in {time.perf_counter() - t0:.0f} s, best lr "
                  f"{truth['best_lr']:.3g} (score {truth['best_score']:.4g}); "
                  f"{(time.perf_counter() - start) / 60:.1f} min so far", file=sys.stderr)  # fmt: skip
    timing = cache.data.setdefault("_wall_s", {})
    timing[args.phase] = timing.get(args.phase, 0.0) + time.perf_counter() - start
    cache.save()


if __name__ == "__main__":
    main()

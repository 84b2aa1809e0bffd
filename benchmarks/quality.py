"""Suggestion quality: does the suggested LR train well?

    python benchmarks/quality.py                 # the whole suite (cached results are reused)
    python benchmarks/quality.py --tasks digits_mlp,wine_linear --refresh

For every task of the suite (benchmarks/quality_tasks.py):

1. Ground truth: train at a constant LR for the task's budget, on a
   quarter-decade grid from 1e-5 to 10, with `--seeds` seeds (init and data
   order); score each run by its validation loss. A run that ends worse than it
   started, or not finite, scores its starting loss. The grid-best LR has the
   lowest mean score.
2. Sweeps: lrfind's range test (1e-7 to 10, 100 steps), `--sweeps` times with
   different seeds, run past divergence so that any stop rule can be replayed
   on the same raw losses; lrfind's own result on the same seeds is checked to
   match the replay of its defaults. torch-lr-finder's range test with its
   defaults and its suggestion (steepest gradient) is the peer.
3. Scores of each suggestion: decades from the grid-best LR and regret (the
   mean validation score when training at exactly the suggested LR, over the
   same seeds, / the grid-best score - 1).

Everything trained is cached in benchmarks/results/quality-cache.json, keyed by
task, LR and seed; the scores go to benchmarks/results/quality.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
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
from machine import machine
from quality_replay import VARIANTS, methods_on, replay, uncertainty_on
from quality_tasks import SUITE, QualityTask

RESULTS = Path(__file__).resolve().parent / "results"
CACHE = RESULTS / "quality-cache.json"
GRID = [10 ** (k / 4) for k in range(-20, 5)]  # 1e-5 ... 10, quarter decades
SWEEP = {"start_lr": 1e-7, "end_lr": 10.0, "steps": 100}


def fingerprint(task: QualityTask) -> str:
    return f"{task.description}|steps={task.steps}|batch={task.batch_size}|v1"


class Cache:
    """Trained scores and swept curves, saved after every new entry (runs can be resumed)."""

    def __init__(self, path: Path, refresh: bool) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path.exists() and not refresh:
            self.data = json.loads(path.read_text())

    def section(self, task: QualityTask) -> dict[str, Any]:
        entry = self.data.setdefault(task.name, {})
        if entry.get("fingerprint") != fingerprint(task):
            entry.clear()
            entry.update(fingerprint=fingerprint(task), train={}, sweeps={}, peer={})
        return entry

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, allow_nan=True))
        os.replace(tmp, self.path)


def train(task: QualityTask, lr: float, seed: int) -> tuple[float, float]:
    """(validation loss after the budget at constant `lr`, before training); NaN once diverged."""
    model, loader = task.build(seed)
    x_val, y_val = task.validation()
    start = evaluate(task, model, x_val, y_val)
    optimizer = task.optimizer(model.parameters(), lr=lr)
    model.train()
    done = 0
    while done < task.steps:
        for x, y in loader:
            loss = task.loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if not math.isfinite(loss.item()):  # diverged: no point training on
                return math.nan, start
            if done == task.steps:
                break
    return evaluate(task, model, x_val, y_val), start


def evaluate(task: QualityTask, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        value = float(task.loss_fn(model(x), y))
    model.train()
    return value


def score(val: float, start: float) -> float:
    """A run that ends worse than it started (or not finite) scores its starting loss."""
    return val if math.isfinite(val) and val < start else start


class Trainer:
    """Mean score over the seeds of training at one LR, cached."""

    def __init__(self, cache: Cache, seeds: int) -> None:
        self.cache = cache
        self.seeds = seeds

    def mean_score(self, task: QualityTask, lr: float) -> float:
        runs = self.cache.section(task)["train"]
        scores = []
        for seed in range(self.seeds):
            key = f"{lr:.6g}|{seed}"
            if key not in runs:
                runs[key] = train(task, lr, seed)
                self.cache.save()
            val, start = runs[key]
            scores.append(score(val, start))
        return statistics.fmean(scores)


def sweep(task: QualityTask, seed: int, stop: bool) -> dict[str, Any]:
    """lrfind's sweep; with stop=False run past divergence (to NaN or the end)."""
    import lrfind

    model, loader = task.build(seed)
    settings = dict(SWEEP, seed=seed)
    if not stop:
        settings["diverge_threshold"] = 1e30
    result = lrfind.find_lr(model, loader, task.loss_fn, optimizer=task.optimizer, **settings)
    h = result.history
    return {"lrs": h.lrs, "losses": h.losses, "suggested_lr": result.suggested_lr,
            "suggestions": {k: s.lr for k, s in result.suggestions.items()}}  # fmt: skip


def peer(task: QualityTask, seed: int) -> dict[str, Any]:
    """torch-lr-finder with its defaults; its suggestion is the steepest point of its plot."""
    from matplotlib.figure import Figure
    from torch_lr_finder import LRFinder

    model, loader = task.build(seed)
    finder = LRFinder(model, task.optimizer(model.parameters(), lr=SWEEP["start_lr"]), task.loss_fn)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder.range_test(loader, end_lr=SWEEP["end_lr"], num_iter=SWEEP["steps"])
        try:
            _, lr = finder.plot(ax=Figure().add_subplot(), suggest_lr=True)
        except (RuntimeError, ValueError):  # too few points before it stopped
            lr = None
    return {"suggested_lr": None if lr is None else float(lr), "steps": len(finder.history["lr"])}


def ground_truth(task: QualityTask, trainer: Trainer) -> dict[str, Any]:
    scores = [trainer.mean_score(task, lr) for lr in GRID]
    best = min(range(len(GRID)), key=scores.__getitem__)
    return {"grid": GRID, "scores": scores, "best_lr": GRID[best], "best_score": scores[best]}


def assess(lr: float | None, truth: dict[str, Any], task: QualityTask, trainer: Trainer) -> dict:
    if lr is None:
        return {"lr": None, "decades": None, "regret": None}
    regret = trainer.mean_score(task, lr) / truth["best_score"] - 1.0
    return {"lr": lr, "decades": math.log10(lr / truth["best_lr"]), "regret": regret}


def run_task(task: QualityTask, cache: Cache, args: argparse.Namespace) -> dict[str, Any]:
    trainer = Trainer(cache, args.seeds)
    section = cache.section(task)
    t0 = time.perf_counter()
    truth = ground_truth(task, trainer)
    print(f"{task.name}: ground truth in {time.perf_counter() - t0:.0f} s, best lr "
          f"{truth['best_lr']:.3g} (score {truth['best_score']:.4g})", file=sys.stderr)  # fmt: skip
    sweeps = []
    for seed in range(args.sweeps):
        key = str(seed)
        if key not in section["sweeps"]:
            section["sweeps"][key] = {"full": sweep(task, seed, stop=False),
                                      "lrfind": sweep(task, seed, stop=True)}  # fmt: skip
            cache.save()
        if not args.no_peer and key not in section["peer"]:
            section["peer"][key] = peer(task, seed)
            cache.save()
        full, own = section["sweeps"][key]["full"], section["sweeps"][key]["lrfind"]
        found = methods_on(full["lrs"], full["losses"], SWEEP["steps"])
        if key in section["peer"]:
            found["torch_lr_finder"] = section["peer"][key]["suggested_lr"]
        variants = {name: replay(full["lrs"], full["losses"], SWEEP["steps"], **v)
                    for name, v in VARIANTS.items()}  # fmt: skip
        u = uncertainty_on(full["lrs"], full["losses"], SWEEP["steps"])
        sweeps.append({
            "seed": seed,
            "confidence": u.confidence,
            "doubts": u.reasons,
            "replay_matches_lrfind": _same(found["min_div_10"], own["suggested_lr"]),
            "methods": {m: assess(lr, truth, task, trainer) for m, lr in found.items()},
            "variants": {m: assess(lr, truth, task, trainer) for m, lr in variants.items()},
        })  # fmt: skip
    return {"description": task.description, "truth": truth, "sweeps": sweeps,
            "decade_cost": decade_cost(truth)}  # fmt: skip


def decade_cost(truth: dict[str, Any]) -> dict[str, float]:
    """Regret of training one decade below and above the grid-best LR."""
    i = truth["grid"].index(truth["best_lr"])
    out = {}
    for name, j in (("lower", i - 4), ("higher", i + 4)):
        if 0 <= j < len(truth["grid"]):
            out[name] = truth["scores"][j] / truth["best_score"] - 1.0
    return out


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(SUITE), help="comma-separated task names")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds per LR (default 2)")
    parser.add_argument("--sweeps", type=int, default=3, help="range tests per task (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--no-peer", action="store_true", help="skip torch-lr-finder")
    parser.add_argument("--refresh", action="store_true", help="ignore the cache")
    parser.add_argument("--out", type=Path, default=RESULTS / "quality.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the suite: {', '.join(SUITE)}")
    RESULTS.mkdir(exist_ok=True)
    cache = Cache(CACHE, args.refresh)
    start = time.perf_counter()
    tasks = {name: run_task(SUITE[name], cache, args) for name in names}
    results = {"machine": machine(torch.device("cpu")), "seeds": args.seeds,
               "sweeps": args.sweeps, "grid": GRID, "sweep": SWEEP, "tasks": tasks,
               "wall_s": time.perf_counter() - start}  # fmt: skip
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, allow_nan=False))
    os.replace(tmp, args.out)
    from quality_table import tables

    print(tables(results))


if __name__ == "__main__":
    main()

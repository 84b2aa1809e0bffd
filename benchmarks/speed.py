"""Sweep speed and memory next to the bare training loop and torch-lr-finder.

    pip install -e ".[bench]"
    python benchmarks/speed.py                    # CPU, the three sample models
    python benchmarks/speed.py --features         # also --amp, --accumulate, --channels-last, --compile
    python benchmarks/speed.py --device cuda --features

For each sample model it times the same optimizer steps at the same LRs four
ways: (a) the bare loop of bare_loop.py on a deep copy (the floor), (b)
lrfind's sweep through the Python API, (c) `lrfind run` end to end as a
process, next to bare_loop.py run as a process, and (d) torch-lr-finder's
range_test. (a), (b) and (d) run in one process, interleaved in rotating order
after one untimed warm-up each; medians of --repeats runs are reported, and
b/a is also given run by run (each sweep over the floor timed next to it) to
show the noise. On the CPU the floor and the sweep must record the same losses:
the benchmark checks that they did the same work. Peak memory is measured in a
fresh process per variant: the RSS high-water mark, reset just before the
variant runs, on the CPU; torch.cuda.max_memory_allocated on a GPU.

Results go to benchmarks/results/speed-<device>.json; the tables are printed
as markdown (benchmarks/README.md holds the latest ones).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")  # torch-lr-finder's bar: neither side draws one

import torch  # noqa: E402
from bare_loop import bare_loop  # noqa: E402
from machine import machine  # noqa: E402

from lrfind import SweepConfig, find_lr  # noqa: E402
from lrfind.core.curve import lr_schedule  # noqa: E402
from lrfind.spec import call_build, load_function  # noqa: E402
from lrfind.sweep.task import Task, task_from_build  # noqa: E402

MODELS = ("digits_mlp", "resnet_cnn", "char_transformer")
FEATURES: dict[str, dict[str, Any]] = {
    "bf16": {"amp": "bf16"},
    "fp16": {"amp": "fp16"},
    "accumulate2": {"accumulate": 2},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
}
STEPS = 100  # the sweep's planned steps; it stops earlier when the loss diverges


def build(name: str) -> Task:
    """The sample's Task, built after seeding as `lrfind run` builds it."""
    torch.manual_seed(0)
    func, label = load_function(f"{ROOT}/sample_models/{name}.py:build")
    return task_from_build(call_build(func, label, {}), label)


def floor(task: Task, device: torch.device, lrs: list[float], feature: dict[str, Any]) -> dict:
    """(a) The bare loop, seeded as lrfind seeds its sweep: the same batches in the same order."""
    torch.manual_seed(0)
    return bare_loop(
        task.model, task.train_loader, task.loss_fn, task.optimizer, device, lrs, feature
    )


def sweep(task: Task, device: torch.device, feature: dict[str, Any]) -> dict:
    """(b) lrfind's Python API: whole call, loop, and the steps it executed."""
    config = SweepConfig(device=str(device), steps=STEPS, **feature)
    start = time.perf_counter()
    result = find_lr(task, config=config)
    whole = time.perf_counter() - start
    h = result.history
    return {
        "whole_s": whole,
        "loop_s": h.loop_s,
        "losses": h.losses,
        "steps_run": h.steps_run,
        # Steps executed: the recorded ones, those the GradScaler skipped and the overshoot.
        "executed": h.steps_run + h.skipped + h.overshoot,
    }


def peer(task: Task, device: torch.device, lrs: list[float]) -> dict:
    """(d) torch-lr-finder: LRFinder + range_test over the same LRs + reset, as its README does.

    It trains the model it is given in place; as in a training script, that
    model is already on the device (so its state cache is there too).
    """
    from torch_lr_finder import LRFinder, TrainDataLoaderIter

    class DictBatches(TrainDataLoaderIter):  # its documented hook for non-tuple batches
        def inputs_labels_from_batch(self, batch: Any) -> tuple[Any, Any]:
            return batch, batch["labels"]

    torch.manual_seed(0)
    model = copy.deepcopy(task.model)
    if task.loss_fn is None:  # the model computes its loss: adapt it to model(inputs)
        model, criterion, loader = _LossModel(model), _first, DictBatches(task.train_loader)
    else:
        criterion, loader = task.loss_fn, task.train_loader
    start = time.perf_counter()
    model.to(device)
    optimizer = (task.optimizer or _sgd)(model.parameters())
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line when done
        finder = LRFinder(model, optimizer, criterion, device=device)
        finder.range_test(
            loader, start_lr=lrs[0], end_lr=lrs[-1], num_iter=len(lrs), diverge_th=1e30
        )
        finder.reset()
    _sync(device)
    return {"whole_s": time.perf_counter() - start}


class _LossModel(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.inner(**batch).loss


def _first(out: torch.Tensor, labels: Any) -> torch.Tensor:
    return out


def _sgd(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=1e-7, momentum=0.9)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _scale(loop_s: float) -> int:
    """More runs for a cheap loop (up to 5x), so that each variant is timed for ~2 s at least."""
    return max(1, min(5, round(2.0 / max(loop_s * 5, 1e-9))))


def _med(values: list[float]) -> float:
    return statistics.median(values)


def bench_model(
    name: str, device: torch.device, repeats: int, with_peer: bool, features: bool
) -> dict[str, Any]:
    task = build(name)
    first = sweep(task, device, {})  # warm-up; fixes the steps the floor runs
    lrs = lr_schedule(1e-7, 10.0, STEPS)[: first["executed"]]
    base = floor(task, device, lrs, {})
    variants = ["floor", "sweep"] + (["peer"] if with_peer else [])
    if with_peer:
        peer(task, device, lrs)
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    n_runs = repeats * _scale(base["loop_s"])
    for r in range(n_runs):
        for variant in variants[r % len(variants) :] + variants[: r % len(variants)]:
            if variant == "floor":
                runs["floor"].append(floor(task, device, lrs, {}))
            elif variant == "sweep":
                runs["sweep"].append(sweep(task, device, {}))
            else:
                runs["peer"].append(peer(task, device, lrs))
    n = len(lrs)
    loop = {v: [x["loop_s"] for x in runs[v]] for v in ("floor", "sweep")}
    whole = {v: [x["whole_s"] for x in runs[v]] for v in variants}
    paired = [s / f for s, f in zip(loop["sweep"], loop["floor"], strict=True)]
    result: dict[str, Any] = {
        "steps": n,
        "in_process_runs": n_runs,
        "steps_recorded": first["steps_run"],
        # On the CPU both are deterministic: equal losses mean they trained the same way.
        "same_losses": device.type != "cpu" or base["losses"] == first["losses"][:n],
        "ms_per_step": {
            "floor_loop": 1e3 * _med(loop["floor"]) / n,
            "sweep_loop": 1e3 * _med(loop["sweep"]) / n,
            **{f"{v}_whole": 1e3 * _med(whole[v]) / n for v in variants},
        },
        "ratio": {
            "sweep_loop": _med(loop["sweep"]) / _med(loop["floor"]),
            "sweep_loop_run_by_run": [min(paired), _med(paired), max(paired)],
            "sweep_whole": _med(whole["sweep"]) / _med(whole["floor"]),
        },
        "raw_s": {"loop": loop, "whole": whole},
    }
    if with_peer:
        result["ratio"]["peer_whole"] = _med(whole["peer"]) / _med(whole["floor"])
    result["process"] = processes(name, device, repeats, n)
    result["process"]["ratio_to_floor_loop"] = result["process"]["lrfind_run_s"] / _med(
        loop["floor"]
    )
    memory_variants = ["bare", "sweep"] + (["peer"] if with_peer else [])
    result["memory"] = {v: _in_fresh_process(name, v, device, n) for v in memory_variants}
    if features:
        result["features"] = bench_features(task, name, device, repeats)
    return result


def bench_features(task: Task, name: str, device: torch.device, repeats: int) -> dict[str, Any]:
    """Loop time of lrfind with each option vs the bare loop doing the same thing."""
    out = {}
    for feature, settings in FEATURES.items():
        if feature == "channels_last" and name != "resnet_cnn":
            continue  # only conv nets have a memory format to change
        if name == "resnet_cnn" and device.type == "cpu" and feature in ("fp16", "compile"):
            continue  # fp16 convolutions take ~4 s a step on a CPU; compiling, minutes
        first = sweep(task, device, settings)
        lrs = lr_schedule(1e-7, 10.0, STEPS)[: first["executed"]]
        loop_s = floor(task, device, lrs, settings)["loop_s"]
        f, s = [], []
        for r in range(repeats * _scale(loop_s)):  # alternate which of the two runs first
            if r % 2:
                s.append(sweep(task, device, settings)["loop_s"])
            f.append(floor(task, device, lrs, settings)["loop_s"])
            if not r % 2:
                s.append(sweep(task, device, settings)["loop_s"])
        out[feature] = {
            "steps": len(lrs),
            "skipped_steps": first["executed"] - first["steps_run"],
            "floor_ms_per_step": 1e3 * _med(f) / len(lrs),
            "sweep_ms_per_step": 1e3 * _med(s) / len(lrs),
            "ratio": _med(s) / _med(f),
        }
    return out


def fixed_cost(device: torch.device, repeats: int, steps: int = 2000) -> dict[str, float]:
    """What lrfind adds per step, in microseconds, on a model too small to hide it.

    A Linear(4, 1) step costs ~100 us, almost all of it Python and dispatch, so
    the difference to the bare loop is lrfind's own per-step work (moving the
    batch, the EMA, the stop rule, the history). Never diverges: all steps run.
    """
    torch.manual_seed(0)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    task = Task(torch.nn.Linear(4, 1), [(x, y)] * 50, torch.nn.MSELoss())
    config = SweepConfig(device=str(device), steps=steps, end_lr=1e-4, diverge_threshold=1e9)
    lrs = lr_schedule(1e-7, 1e-4, steps)
    f, s = [], []
    for _ in range(3 * repeats + 1):  # cheap: more runs, and the first of each is a warm-up
        f.append(floor(task, device, lrs, {})["loop_s"])
        s.append(find_lr(task, config=config).history.loop_s)
    f, s = f[1:], s[1:]
    return {
        "steps": steps,
        "floor_us_per_step": 1e6 * _med(f) / steps,
        "sweep_us_per_step": 1e6 * _med(s) / steps,
        "added_us_per_step": 1e6 * (_med(s) - _med(f)) / steps,
    }


def processes(name: str, device: torch.device, repeats: int, steps: int) -> dict[str, Any]:
    """(c) `lrfind run` as a user runs it, with and without the plot, next to bare_loop.py."""
    lrfind = str(Path(sys.executable).with_name("lrfind"))
    sample = f"sample_models/{name}.py"
    walls: dict[str, list[float]] = {"lrfind_run": [], "lrfind_run_no_plot": [], "bare_loop": []}
    parts: dict[str, list[float]] = {"build_s": [], "setup_s": [], "loop_s": []}
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "lrfind_run": [lrfind, "run", f"{sample}:build", "--device", str(device),
                           "--out-dir", out, "--quiet"],
            "lrfind_run_no_plot": [lrfind, "run", f"{sample}:build", "--device", str(device),
                                   "--out-dir", out, "--quiet", "--no-plot"],
            "bare_loop": [sys.executable, "benchmarks/bare_loop.py", sample, str(steps),
                          "--device", str(device)],
        }  # fmt: skip
        for _ in range(repeats):
            for key, cmd in commands.items():
                start = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                walls[key].append(time.perf_counter() - start)
                if key == "lrfind_run_no_plot":
                    timing = json.loads(Path(out, "report.json").read_text())["timing"]
                    for part in parts:
                        parts[part].append(timing[part])
    med = {f"{k}_s": _med(v) for k, v in walls.items()}
    return {
        **med,
        "no_plot_parts_s": {k: _med(v) for k, v in parts.items()},
        # What lrfind adds to a plain script doing the same build and steps: its imports,
        # the CLI, the report; and separately the plot (matplotlib's import and render).
        "overhead_no_plot_s": med["lrfind_run_no_plot_s"] - med["bare_loop_s"],
        "plot_s": med["lrfind_run_s"] - med["lrfind_run_no_plot_s"],
        "raw_s": walls,
    }


def startup(repeats: int) -> dict[str, Any]:
    """Seconds (median) of the pieces of a start-up, and what --help imports."""
    lrfind = str(Path(sys.executable).with_name("lrfind"))
    py = sys.executable

    def wall(*cmd: str) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - start)
        return _med(times)

    first_optimizer = "torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)"
    heavy = (
        "import sys\nfrom lrfind.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n"
        "    pass\nprint([m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([py, "-c", heavy], capture_output=True, text=True, cwd=ROOT)
    return {
        "python": wall(py, "-c", "pass"),
        "import_torch": wall(py, "-c", "import torch"),
        # torch.optim's first use imports torch._dynamo: every training script pays it.
        "import_torch_first_optimizer": wall(py, "-c", f"import torch; {first_optimizer}"),
        "lrfind_help": wall(lrfind, "--help"),
        "lrfind_version": wall(lrfind, "--version"),
        "lrfind_usage_error": wall(lrfind, "run", "model.py:build", "--steps", "1"),
        "help_imports": out.stdout.strip().splitlines()[-1],
    }


def memory_worker(name: str, variant: str, device: torch.device, steps: int) -> dict[str, float]:
    """Run one variant once in this fresh process and report its memory high-water mark."""
    task = build(name)
    lrs = lr_schedule(1e-7, 10.0, STEPS)[:steps]
    # One-time imports (torch._dynamo on the first optimizer, the peer) are not the variant's.
    _sgd([torch.nn.Parameter(torch.zeros(1))]).step()
    if variant == "peer":
        import torch_lr_finder  # noqa: F401
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    before = _proc_status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the RSS high-water mark (Linux)
    if variant == "bare":
        floor(task, device, lrs, {})
    elif variant == "sweep":
        sweep(task, device, {})
    else:
        peer(task, device, lrs)
    out = {"rss_before_mb": before, "peak_rss_mb": _proc_status("VmHWM")}
    out["rss_growth_mb"] = out["peak_rss_mb"] - before
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def _proc_status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB -> MiB
    raise RuntimeError(f"no {field} in /proc/self/status")


def _in_fresh_process(name: str, variant: str, device: torch.device, steps: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--memory-worker", name, variant, str(steps), "--device", str(device)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5, help="runs per variant (median)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--features", action="store_true", help="also time --amp etc.")
    parser.add_argument("--no-peer", action="store_true", help="skip torch-lr-finder")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--memory-worker", nargs=3, metavar=("MODEL", "VARIANT", "STEPS"))
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.memory_worker:
        name, variant, steps = args.memory_worker
        print(json.dumps(memory_worker(name, variant, device, int(steps))))
        return
    with_peer = not args.no_peer
    if with_peer:
        try:
            import torch_lr_finder  # noqa: F401
        except ImportError:
            sys.exit('torch-lr-finder is not installed: pip install -e ".[bench]", or --no-peer')
    from table import tables

    results: dict[str, Any] = {"machine": machine(device), "repeats": args.repeats, "models": {}}
    print("timing lrfind's fixed cost per step ...", file=sys.stderr, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"speed-{device.type}.json"
    results["fixed_cost"] = fixed_cost(device, args.repeats)
    for name in args.models.split(","):
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        results["models"][name] = bench_model(name, device, args.repeats, with_peer, args.features)
        path.write_text(json.dumps(results, indent=2) + "\n")  # what is done so far is kept
    print("timing start-up ...", file=sys.stderr, flush=True)
    results["startup_s"] = startup(args.repeats)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(tables(results))
    print(f"\nwrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

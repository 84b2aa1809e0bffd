"""Sweep speed and memory next to the bare training loop and torch-lr-finder.

    python benchmarks/speed.py                    # CPU, the three sample models
    python benchmarks/speed.py --device cuda      # on a GPU
    python benchmarks/speed.py --models digits_mlp --repeats 9 --features

For each sample model it times the same optimizer steps, at the same LRs, four
ways: (a) a bare PyTorch training loop on a deep copy (the floor), (b)
lrfind's sweep through the Python API, (c) `lrfind run` end to end as a
process, and (d) torch-lr-finder's range_test. (a), (b) and (d) run in one
process, interleaved in rotating order, after one untimed warm-up each; the
median of --repeats runs is reported. Peak memory is measured in a fresh
process per variant (RSS on the CPU, torch.cuda.max_memory_allocated on a GPU).
With --features, lrfind's --amp/--accumulate/--channels-last/--compile are
timed against the bare loop doing the same thing.

Results go to benchmarks/results/speed-<device>.json and a markdown table is
printed (benchmarks/README.md holds the latest one).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import platform
import resource
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

from lrfind import SweepConfig, find_lr  # noqa: E402
from lrfind.curve import lr_schedule  # noqa: E402
from lrfind.spec import call_build, load_function  # noqa: E402
from lrfind.task import Task, task_from_build  # noqa: E402

MODELS = ("digits_mlp", "resnet_cnn", "char_transformer")
FEATURES: dict[str, dict[str, Any]] = {
    "bf16": {"amp": "bf16"},
    "accumulate2": {"accumulate": 2},
    "channels_last": {"channels_last": True},
    "compile": {"compile": True},
}


def build(name: str) -> Task:
    torch.manual_seed(0)
    func, label = load_function(f"{ROOT}/sample_models/{name}.py:build")
    return task_from_build(call_build(func, label, {}), label)


def loss_of(task: Task, model: torch.nn.Module, batch: Any) -> torch.Tensor:
    """The batch -> loss a user's own training loop would write."""
    if isinstance(batch, dict):
        return model(**batch).loss
    x, y = batch
    return task.loss_fn(model(x), y)  # type: ignore[misc]


def to(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    x, y = batch
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def make_optimizer(task: Task, model: torch.nn.Module) -> torch.optim.Optimizer:
    if task.optimizer is not None:
        return task.optimizer(model.parameters())  # type: ignore[operator]
    return torch.optim.SGD(model.parameters(), lr=1e-7, momentum=0.9)


def bare(task: Task, device: torch.device, lrs: list[float], feature: dict[str, Any]) -> float:
    """(a) The floor: copy, optimizer, N plain steps at the sweep's LRs. Returns loop seconds."""
    torch.manual_seed(0)
    model = copy.deepcopy(task.model).to(device).train()
    channels_last = feature.get("channels_last", False)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(task, model)
    amp = feature.get("amp")
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    accumulate = feature.get("accumulate", 1)
    batches = _restartable(task.train_loader)
    if feature.get("compile"):
        model = torch.compile(model)
        with ctx:
            loss_of(
                task, model, to(next(iter(task.train_loader)), device, channels_last)
            ).backward()
        model.zero_grad(set_to_none=True)
    losses = []
    _sync(device)
    start = time.perf_counter()
    for lr in lrs:
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        for _ in range(accumulate):
            with ctx:
                loss = loss_of(task, model, to(next(batches), device, channels_last)) / accumulate
            loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    torch.stack(losses).tolist()  # read the losses once, as a logging loop would at the end
    return time.perf_counter() - start


def _restartable(loader: Any) -> Any:
    while True:
        yield from loader


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sweep(
    task: Task, device: torch.device, steps: int, feature: dict[str, Any]
) -> tuple[float, float, int]:
    """(b) lrfind's API. Returns (whole call seconds, loop seconds, steps run)."""
    config = SweepConfig(device=str(device), steps=steps, **feature)
    start = time.perf_counter()
    result = find_lr(task, config=config)
    return time.perf_counter() - start, result.history.loop_s, result.steps_run


def peer(task: Task, device: torch.device, lrs: list[float]) -> float:
    """(d) torch-lr-finder's range_test over the same LRs, including its reset()."""
    from torch_lr_finder import LRFinder, TrainDataLoaderIter

    class DictBatches(TrainDataLoaderIter):  # its documented hook for non-tuple batches
        def inputs_labels_from_batch(self, batch: Any) -> tuple[Any, Any]:
            return batch, batch["labels"]

    model = copy.deepcopy(task.model)
    if task.loss_fn is None:  # the model computes its loss: adapt to model(inputs)
        inner = model
        model = _LossModel(inner)
        criterion = _identity
        loader: Any = DictBatches(task.train_loader)
    else:
        criterion, loader = task.loss_fn, task.train_loader
    optimizer = make_optimizer(task, model)
    _sync(device)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line when done
        finder = LRFinder(model, optimizer, criterion, device=device)
        finder.range_test(
            loader, start_lr=lrs[0], end_lr=lrs[-1], num_iter=len(lrs), diverge_th=1e30
        )
        finder.reset()
    _sync(device)
    return time.perf_counter() - start


class _LossModel(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.inner(**batch).loss


def _identity(out: torch.Tensor, labels: Any) -> torch.Tensor:
    return out


def cli(name: str, device: torch.device) -> tuple[float, float]:
    """(c) `lrfind run` as a user runs it. Returns (wall seconds, sweep loop seconds)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "lrfind", "run", f"sample_models/{name}.py:build",
             "--device", str(device), "--out-dir", out, "--quiet"],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - start
        report = json.loads(Path(out, "report.json").read_text())
    return wall, report["timing"]["loop_s"]


def startup(repeats: int, device: torch.device) -> dict[str, float]:
    """Seconds (median) of what `lrfind run` spends outside the sweep, piece by piece."""
    lrfind = str(Path(sys.executable).with_name("lrfind"))

    def wall(*cmd: str) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    py = sys.executable
    out: dict[str, float] = {
        "python": wall(py, "-c", "pass"),
        "import_torch": wall(py, "-c", "import torch"),
        "import_torch_and_first_optimizer": wall(
            py, "-c", "import torch; torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)"
        ),
        "lrfind_help": wall(lrfind, "--help"),
        "lrfind_version": wall(lrfind, "--version"),
        "lrfind_usage_error": wall(lrfind, "run", "m.py:build", "--steps", "1"),
    }
    for plot in (False, True):
        walls, timings = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(repeats):
                cmd = [lrfind, "run", "sample_models/digits_mlp.py:build", "--device", str(device),
                       "--out-dir", tmp, "--quiet"] + ([] if plot else ["--no-plot"])  # fmt: skip
                start = time.perf_counter()
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                walls.append(time.perf_counter() - start)
                timings.append(json.loads(Path(tmp, "report.json").read_text())["timing"])
        key = "digits_mlp_run" + ("" if plot else "_no_plot")
        out[key] = statistics.median(walls)
        for part in ("build_s", "setup_s", "loop_s"):
            out[f"{key}_{part}"] = statistics.median(t[part] for t in timings)
    return out


def memory_worker(name: str, variant: str, device: torch.device, steps: int) -> dict[str, float]:
    """Run one variant once in this (fresh) process and report its memory high-water mark."""
    task = build(name)
    lrs = lr_schedule(1e-7, 10.0, 100)[:steps]
    base_rss = _rss_now()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    if variant == "bare":
        bare(task, device, lrs, {})
    elif variant == "sweep":
        sweep(task, device, 100, {})
    else:
        peer(task, device, lrs)
    out = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "rss_before_mb": base_rss}  # fmt: skip
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def _rss_now() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_model(name: str, device: torch.device, repeats: int, features: bool) -> dict[str, Any]:
    task = build(name)
    _, _, steps = sweep(task, device, 100, {})  # warm-up; fixes the number of steps
    lrs = lr_schedule(1e-7, 10.0, 100)[:steps]
    runs: dict[str, list[float]] = {"bare": [], "sweep": [], "sweep_loop": [], "peer": []}
    bare(task, device, lrs, {})
    peer(task, device, lrs)
    for r in range(repeats):
        order = ["bare", "sweep", "peer"][r % 3 :] + ["bare", "sweep", "peer"][: r % 3]
        for variant in order:
            if variant == "bare":
                runs["bare"].append(bare(task, device, lrs, {}))
            elif variant == "sweep":
                total, loop, ran = sweep(task, device, 100, {})
                assert ran == steps, "the sweep must be deterministic"
                runs["sweep"].append(total)
                runs["sweep_loop"].append(loop)
            else:
                runs["peer"].append(peer(task, device, lrs))
    clis = [cli(name, device) for _ in range(repeats)]
    med = {k: statistics.median(v) for k, v in runs.items()}
    cli_wall = statistics.median(w for w, _ in clis)
    cli_loop = statistics.median(loop for _, loop in clis)
    result: dict[str, Any] = {
        "steps": steps,
        "ms_per_step": {
            "bare": 1e3 * med["bare"] / steps,
            "sweep": 1e3 * med["sweep"] / steps,
            "sweep_loop_only": 1e3 * med["sweep_loop"] / steps,
            "lrfind_run": 1e3 * cli_wall / steps,
            "torch_lr_finder": 1e3 * med["peer"] / steps,
        },
        "ratio_to_bare": {
            "sweep": med["sweep"] / med["bare"],
            "sweep_loop_only": med["sweep_loop"] / med["bare"],
            "lrfind_run": cli_wall / med["bare"],
            "torch_lr_finder": med["peer"] / med["bare"],
        },
        "lrfind_run_s": {
            "wall": cli_wall,
            "sweep_loop": cli_loop,
            "startup_and_io": cli_wall - cli_loop,
        },
        "raw_s": runs,
        "memory": {v: _in_fresh_process(name, v, device, steps) for v in ("bare", "sweep", "peer")},
    }
    if features:
        result["features"] = bench_features(task, device, lrs, repeats, name)
    return result


def bench_features(
    task: Task, device: torch.device, lrs: list[float], repeats: int, name: str
) -> dict[str, Any]:
    """Per-step loop time of lrfind with each option vs the bare loop doing the same."""
    out = {}
    for feature, settings in FEATURES.items():
        if feature == "channels_last" and name != "resnet_cnn":
            continue  # only meaningful for conv nets
        if feature == "compile" and name == "resnet_cnn" and device.type == "cpu":
            continue  # minutes of C++ compilation on 2 CPU cores
        bare(task, device, lrs, settings)
        _, _, ran = sweep(task, device, 100, settings)
        sub = lrs[:ran]
        b, s = [], []
        for _ in range(repeats):
            b.append(bare(task, device, sub, settings))
            s.append(sweep(task, device, 100, settings)[1])
        out[feature] = {
            "steps": ran,
            "bare_ms_per_step": 1e3 * statistics.median(b) / len(sub),
            "sweep_ms_per_step": 1e3 * statistics.median(s) / ran,
            "ratio": (statistics.median(s) / ran) / (statistics.median(b) / len(sub)),
        }
    return out


def _in_fresh_process(
    name: str, variant: str, device: torch.device, steps: int
) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--memory-worker", name, variant, str(steps), "--device", str(device)],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine(device: torch.device) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def table(results: dict[str, Any]) -> str:
    rows = [
        "| model | steps | bare ms/step | sweep ms/step (b/a) | sweep loop only (b/a) "
        "| `lrfind run` ms/step (c/a) | torch-lr-finder ms/step (d/a) | peak memory bare / sweep / torch-lr-finder |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        ms, ratio, mem = r["ms_per_step"], r["ratio_to_bare"], r["memory"]
        key = "peak_cuda_mb" if "peak_cuda_mb" in mem["bare"] else "peak_rss_mb"
        rows.append(
            f"| {name} | {r['steps']} | {ms['bare']:.2f} | {ms['sweep']:.2f} ({ratio['sweep']:.3f}) "
            f"| {ms['sweep_loop_only']:.2f} ({ratio['sweep_loop_only']:.3f}) "
            f"| {ms['lrfind_run']:.1f} ({ratio['lrfind_run']:.2f}) "
            f"| {ms['torch_lr_finder']:.2f} ({ratio['torch_lr_finder']:.3f}) "
            f"| {mem['bare'][key]:.0f} / {mem['sweep'][key]:.0f} / {mem['peer'][key]:.0f} MB |"
        )
    features = [
        (n, f, v) for n, r in results["models"].items() for f, v in r.get("features", {}).items()
    ]
    if features:
        rows += ["", "| model | option | steps | bare ms/step | sweep ms/step | ratio |",
                 "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for name, feature, v in features:
            rows.append(
                f"| {name} | {feature} | {v['steps']} | {v['bare_ms_per_step']:.2f} "
                f"| {v['sweep_ms_per_step']:.2f} | {v['ratio']:.3f} |"
            )
    startup = [
        f"| {n} | {r['lrfind_run_s']['wall']:.2f} | {r['lrfind_run_s']['sweep_loop']:.2f} "
        f"| {r['lrfind_run_s']['startup_and_io']:.2f} |"
        for n, r in results["models"].items()
    ]
    rows += ["", "| model | `lrfind run` wall s | its sweep loop s | the rest: imports, build, I/O s |",
             "| --- | --- | --- | --- |", *startup]  # fmt: skip
    if "startup_s" in results:
        rows += ["", "| start-up piece | seconds (median) |", "| --- | --- |"]
        rows += [f"| {k} | {v:.3f} |" for k, v in results["startup_s"].items()]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--features", action="store_true", help="also time --amp etc.")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--memory-worker", nargs=3, metavar=("MODEL", "VARIANT", "STEPS"))
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.memory_worker:
        name, variant, steps = args.memory_worker
        print(json.dumps(memory_worker(name, variant, device, int(steps))))
        return
    results: dict[str, Any] = {"machine": machine(device), "repeats": args.repeats, "models": {}}
    for name in args.models.split(","):
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        results["models"][name] = bench_model(name, device, args.repeats, args.features)
    print("timing start-up ...", file=sys.stderr, flush=True)
    results["startup_s"] = startup(args.repeats, device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"speed-{device.type}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

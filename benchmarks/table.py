"""Markdown tables from a speed benchmark's results (benchmarks/results/speed-*.json).

python benchmarks/table.py benchmarks/results/speed-cpu.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def tables(results: dict[str, Any]) -> str:
    """Every table of benchmarks/README.md for one results file."""
    m = results["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} cores, {m.get('memory_gib', '?')} GiB"
    head = (
        f"Machine: {where}; torch {m['torch']}, Python {m['python']}, device {m['device']}; "
        f"median of {results['repeats']} runs (in-process timings of a loop shorter than 0.4 s: "
        "up to 5x as many)."
    )
    parts = [head, _loop(results)]
    if "fixed_cost" in results:
        c = results["fixed_cost"]
        parts.append(
            f"Fixed cost per step (Linear(4, 1), {c['steps']} steps): bare loop "
            f"{c['floor_us_per_step']:.1f} us, lrfind {c['sweep_us_per_step']:.1f} us: "
            f"lrfind adds **{c['added_us_per_step']:.1f} us per step**."
        )
    parts += [_whole(results), _process(results), _memory(results)]
    features = _features(results)
    if features:
        parts.append(features)
    if "startup_s" in results:
        parts.append(_startup(results["startup_s"]))
    return "\n\n".join(parts)


def _loop(results: dict[str, Any]) -> str:
    rows = [
        "| model | steps | (a) bare loop ms/step | (b) lrfind sweep ms/step | b/a | "
        "b/a run by run (min / median / max) | same losses as (a) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        ms, ratio = r["ms_per_step"], r["ratio"]
        lo, mid, hi = ratio["sweep_loop_run_by_run"]
        rows.append(
            f"| {name} | {r['steps']} | {ms['floor_loop']:.3f} | {ms['sweep_loop']:.3f} "
            f"| **{ratio['sweep_loop']:.3f}** | {lo:.3f} / {mid:.3f} / {hi:.3f} "
            f"| {'yes' if r['same_losses'] else 'NO'} |"
        )
    return "\n".join(rows)


def _whole(results: dict[str, Any]) -> str:
    rows = [
        "| model | (a) bare: copy + optimizer + loop, ms/step | (b) `find_lr` call | b/a "
        "| (d) torch-lr-finder: init + range_test + reset | d/a |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        ms, ratio = r["ms_per_step"], r["ratio"]
        peer = "not run | -"
        if "peer_whole" in ms:
            peer = f"{ms['peer_whole']:.3f} | {ratio['peer_whole']:.3f}"
        rows.append(
            f"| {name} | {ms['floor_whole']:.3f} | {ms['sweep_whole']:.3f} "
            f"| {ratio['sweep_whole']:.3f} | {peer} |"
        )
    return "\n".join(rows)


def _process(results: dict[str, Any]) -> str:
    rows = [
        "| model | (c) `lrfind run` s | c/a per step | `--no-plot` s | bare_loop.py s "
        "| lrfind's own cost (no plot) s | the plot s | in `--no-plot`: build / set-up / loop s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        p = r["process"]
        parts = p["no_plot_parts_s"]
        rows.append(
            f"| {name} | {p['lrfind_run_s']:.2f} | {p['ratio_to_floor_loop']:.1f} "
            f"| {p['lrfind_run_no_plot_s']:.2f} | {p['bare_loop_s']:.2f} "
            f"| {p['overhead_no_plot_s']:+.2f} | {p['plot_s']:.2f} "
            f"| {parts['build_s']:.2f} / {parts['setup_s']:.2f} / {parts['loop_s']:.2f} |"
        )
    return "\n".join(rows)


def _memory(results: dict[str, Any]) -> str:
    first = next(iter(results["models"].values()))["memory"]["bare"]
    gpu = "peak_cuda_mb" in first
    what = "peak CUDA memory allocated, MiB" if gpu else "peak RSS MiB (growth during the run)"
    rows = [
        f"| model | (a) bare: {what} | (b) lrfind | b/a | (d) torch-lr-finder | d/a |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        mem = r["memory"]
        cells = [name]
        base = _mem_value(mem["bare"], gpu)
        for variant in ("bare", "sweep", "peer"):
            if variant not in mem:
                cells += ["not run", "-"]
                continue
            v = mem[variant]
            text = (
                f"{v['peak_cuda_mb']:.0f}"
                if gpu
                else f"{v['peak_rss_mb']:.0f} (+{v['rss_growth_mb']:.0f})"
            )
            cells.append(text)
            if variant != "bare":
                cells.append(f"{_mem_value(v, gpu) / base:.3f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _mem_value(v: dict[str, float], gpu: bool) -> float:
    return v["peak_cuda_mb"] if gpu else v["peak_rss_mb"]


def _features(results: dict[str, Any]) -> str:
    rows = [
        "| model | option | steps | bare loop ms/step | lrfind ms/step | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results["models"].items():
        for feature, v in r.get("features", {}).items():
            rows.append(
                f"| {name} | {feature} | {v['steps']} | {v['floor_ms_per_step']:.3f} "
                f"| {v['sweep_ms_per_step']:.3f} | {v['ratio']:.3f} |"
            )
    return "\n".join(rows) if len(rows) > 2 else ""


def _startup(s: dict[str, Any]) -> str:
    rows = ["| start-up | seconds (median) |", "| --- | --- |"]
    rows += [f"| {k} | {v:.3f} |" for k, v in s.items() if isinstance(v, float)]
    rows.append(
        f"| modules of torch, numpy, matplotlib that `lrfind --help` imports | {s['help_imports']} |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    print(tables(json.loads(Path(sys.argv[1]).read_text())))

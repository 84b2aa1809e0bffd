"""Markdown tables of benchmarks/results/quality.json.

python benchmarks/quality_table.py [benchmarks/results/quality.json]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

DEFAULT = Path(__file__).resolve().parent / "results" / "quality.json"


def tables(results: dict[str, Any]) -> str:
    m = results["machine"]
    head = (
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']}, Python {m['python']}; "
        f"{len(results['tasks'])} tasks, {results['sweeps']} range tests each, ground truth "
        f"over {results['seeds']} seeds; {results['wall_s'] / 60:.0f} min of which most is cached."
    )
    return "\n\n".join([head, _tasks(results), _per_task(results, "methods"),
                        _summary(results, "methods", "method"),
                        _summary(results, "variants", "min_div_10 variant"),
                        _confidence(results)])  # fmt: skip


def _tasks(results: dict[str, Any]) -> str:
    rows = ["| task | what | grid-best LR | its val loss | regret 1 decade lower | 1 decade higher |",
            "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, t in results["tasks"].items():
        truth, cost = t["truth"], t["decade_cost"]
        rows.append(f"| {name} | {t['description']} | {truth['best_lr']:.3g} | "
                    f"{truth['best_score']:.4g} | {_pct(cost.get('lower'))} | "
                    f"{_pct(cost.get('higher'))} |")  # fmt: skip
    return "\n".join(rows)


def _per_task(results: dict[str, Any], key: str) -> str:
    names = _names(results, key)
    rows = ["| task | " + " | ".join(f"{n}: decades / regret" for n in names) + " |",
            "| --- |" + " --- |" * len(names)]  # fmt: skip
    for task, t in results["tasks"].items():
        cells = []
        for n in names:
            scored = [s[key][n] for s in t["sweeps"] if s[key][n]["lr"] is not None]
            if not scored:
                cells.append("none")
                continue
            dec = statistics.fmean(s["decades"] for s in scored)
            reg = statistics.fmean(s["regret"] for s in scored)
            cells.append(f"{dec:+.2f} / {_pct(reg)}")
        rows.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _summary(results: dict[str, Any], key: str, label: str) -> str:
    rows = [
        f"| {label} | decades off: mean / median | signed mean | regret: mean / median "
        "| worst regret | no suggestion |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n in _names(results, key):
        scored, missing = [], 0
        for t in results["tasks"].values():
            for s in t["sweeps"]:
                if s[key][n]["lr"] is None:
                    missing += 1
                else:
                    scored.append(s[key][n])
        if not scored:
            rows.append(f"| {n} | | | | | {missing} |")
            continue
        dec = [abs(s["decades"]) for s in scored]
        reg = [s["regret"] for s in scored]
        rows.append(
            f"| {n} | {statistics.fmean(dec):.2f} / {statistics.median(dec):.2f} | "
            f"{statistics.fmean(s['decades'] for s in scored):+.2f} | "
            f"{_pct(statistics.fmean(reg))} / {_pct(statistics.median(reg))} | "
            f"{_pct(max(reg))} | {missing} |"
        )
    return "\n".join(rows)


def _confidence(results: dict[str, Any]) -> str:
    """The default suggestion's scores grouped by the confidence lrfind stated."""
    rows = ["| stated confidence | range tests | decades off: mean | regret: mean / median |",
            "| --- | --- | --- | --- |"]  # fmt: skip
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in results["tasks"].values():
        for s in t["sweeps"]:
            if "confidence" in s and s["methods"]["min_div_10"]["lr"] is not None:
                groups.setdefault(s["confidence"], []).append(s["methods"]["min_div_10"])
    for level in ("high", "medium", "low"):
        g = groups.get(level, [])
        if g:
            reg = [s["regret"] for s in g]
            rows.append(f"| {level} | {len(g)} | {statistics.fmean(abs(s['decades']) for s in g):.2f}"
                        f" | {_pct(statistics.fmean(reg))} / {_pct(statistics.median(reg))} |")  # fmt: skip
    return "\n".join(rows)


def _names(results: dict[str, Any], key: str) -> list[str]:
    first = next(iter(results["tasks"].values()))["sweeps"][0][key]
    return list(first)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    print(tables(json.loads(path.read_text())))

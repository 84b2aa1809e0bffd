"""Terminal tables for `lrfind schedule`, `compare` and `diagnose` (rich, no torch)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from lrfind.tools.compare import Comparison, setup_differences
from lrfind.tools.diagnose import Diagnosis
from lrfind.tools.schedule import Trace


def sample_steps(steps: int) -> list[int]:
    """The steps the schedule table shows: first, quarter points, last (0-based)."""
    return sorted({0, steps // 4, steps // 2, 3 * steps // 4, steps - 1})


def schedule_table(traces: Sequence[Trace]) -> Table:
    """One row per scheduler: its LR at a handful of steps, then min and max."""
    steps = len(traces[0].lrs)
    table = Table(title=f"LR per step ({steps} steps)", title_justify="left")
    table.add_column("scheduler", no_wrap=True)
    picks = sample_steps(steps)
    for s in picks:
        table.add_column(f"step {s}", justify="right", no_wrap=True)
    table.add_column("min", justify="right")
    table.add_column("max", justify="right")
    for t in traces:
        cells = [_lr(t.lrs[s]) for s in picks]
        table.add_row(t.name, *cells, _lr(min(t.lrs)), _lr(max(t.lrs)))
    return table


def comparison_lines(c: Comparison) -> list[str]:
    """Both suggestions, the drift and the verdict, one line each."""
    lines = []
    for label, side in (("baseline", c.baseline), ("new", c.new)):
        lr = "none" if side.lr is None else f"{side.lr:.3g}"
        steps = "" if side.steps_run is None else f" after {side.steps_run} steps"
        lines.append(f"{label:<9} {lr:<9} ({side.method}; {side.stop_reason}{steps}; {side.path})")
    if c.drift is not None:
        way = "higher" if c.drift > 0 else "lower"
        times = f"{10 ** abs(c.drift):.3g}x" if abs(c.drift) < 300 else f"10^{abs(c.drift):.0f}x"
        ratio = "the same LR" if c.drift == 0 else f"new is {times} {way}"
        lines.append(f"drift     {c.drift_shown} decades ({ratio}); tolerance {c.tolerance:g}")
    if c.failure is not None:
        lines.append(f"FAIL: the new sweep failed: {c.failure}")
    elif not c.ok:
        lines.append(f"FAIL: the suggestion moved more than {c.tolerance:g} decades")
    else:
        lines.append(f"OK: within {c.tolerance:g} decades")
    if c.baseline.method != c.new.method:
        lines.append(
            f"note: the methods differ ({c.baseline.method} vs {c.new.method}): "
            "rerun with the same --method to compare like with like"
        )
    differ = setup_differences(c)
    if differ:
        lines.append(
            f"note: the sweeps differ ({'; '.join(differ)}): some drift is expected from that alone"
        )
    return lines


def diagnosis_table(d: Diagnosis) -> Table:
    """Each check: the number measured, its threshold, whether it fired, and what it saw."""
    table = Table(title=f"Diagnosis: {d.kind}", title_justify="left")
    for col in ("check", "measured", "threshold", ""):
        table.add_column(col, justify="right" if col in ("measured", "threshold") else "left")
    table.add_column("evidence")
    for c in d.checks:
        value = "n/a" if c.value is None else f"{c.value:.4g}"
        compare = "<" if c.name == "stuck" else ">"
        mark = "◀ fired" if c.fired else ""
        style = "bold red" if c.fired and c.kind == d.kind else None
        table.add_row(c.name, value, f"{compare} {c.threshold:g}", mark, c.evidence, style=style)
    return table


def _lr(x: float) -> str:
    return f"{x:.3g}"

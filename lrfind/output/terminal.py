"""The terminal view: about 20 rows of LR vs loss, then the lines before the suggestion.

rich tables and plain strings; the CLI decides where they are printed.
"""

from __future__ import annotations

import math

from rich.table import Table

from lrfind.core.result import SweepResult


def table_rows(lrs: list[float], rows: int = 20) -> list[int]:
    """Indices of about `rows` points spaced evenly in log LR, first and last included."""
    n = len(lrs)
    if n <= rows:
        return list(range(n))
    lo, hi = math.log(lrs[0]), math.log(lrs[-1])
    picked: set[int] = set()
    j = 0
    for k in range(rows):
        target = lo + (hi - lo) * k / (rows - 1)
        # lrs rise monotonically: walk forward to the point nearest the target.
        while j + 1 < n and abs(math.log(lrs[j + 1]) - target) <= abs(math.log(lrs[j]) - target):
            j += 1
        picked.add(j)
    return sorted(picked)


def result_table(result: SweepResult, rows: int = 20) -> Table:
    """A rich Table of step, LR, raw and smoothed loss; minimum and suggestion marked."""
    h = result.history
    marks: dict[int, str] = {}
    if result.min_index is not None:
        marks[result.min_index] = "◀ minimum"
    s = result.suggestion
    if s.index is not None:
        marks[s.index] = (marks.get(s.index, "") + f" ◀ suggested {s.lr:.2e}").strip()
    indices = sorted(set(table_rows(h.lrs, rows)) | set(marks))

    table = Table(title=f"LR range test ({result.steps_run} steps)", title_justify="left")
    table.add_column("step", justify="right")
    table.add_column("lr", justify="right")
    table.add_column("loss", justify="right")
    smoothed = h.is_smoothed  # smoothing is off by default: no column that repeats the loss
    if smoothed:
        table.add_column("smoothed", justify="right")
    table.add_column("")
    for i in indices:
        mark = marks.get(i, "")
        style = "bold green" if "suggested" in mark else "bold red" if mark else None
        cells = [str(i + 1), f"{h.lrs[i]:.2e}", _num(h.losses[i])]
        cells += [_num(h.smoothed[i])] if smoothed else []
        table.add_row(*cells, mark, style=style)
    return table


_LABELS = {"one_cycle": "one-cycle", "cyclic": "cyclic", "warmup_cosine": "warmup+cosine"}


def training_lines(result: SweepResult) -> list[str]:
    """What the sweep trained with: the optimizer (lrfind's default said so), groups, the stack."""
    if result.training is None:
        return []
    lines = result.training.lines()
    skipped = result.history.skipped
    if skipped:  # fp16: steps whose update the GradScaler skipped; their losses are on the curve
        lines[0] += f" (the GradScaler skipped {skipped} step{'s' * (skipped > 1)}: inf/NaN grads)"
    return lines


def plan_lines(result: SweepResult) -> list[str]:
    """Plain lines before the suggestion line: --refine's probes, the schedules, and how
    stable the repeats are."""
    lines = [] if result.refinement is None else [result.refinement.line()]
    plan = result.schedules()
    if plan is not None:
        falls = f"the loss falls from lr {plan.base_lr:.3g} to {plan.max_lr:.3g}"
        if f"{plan.base_lr:.3g}" == f"{plan.max_lr:.3g}":  # a basin of one point
            falls = f"the loss falls at lr {plan.max_lr:.3g} alone"
        lines.append(
            f"Schedules for a {plan.total_steps}-step run ({falls}; snippets in report.json):"
        )
        groups = result.training is not None and result.training.groups_differ
        for name, schedule in plan.schedules.items():
            text = schedule.summary
            if name == "warmup_cosine":
                peaks = schedule.kwargs.get("group_peak_lrs")
                lr = f"lrs={peaks}" if peaks else f"lr={plan.peak_lr:.3g}"
                text += f"  # optimizer {lr}"
            lines.append(f"  {_LABELS[name]:<14} {text}")
        if groups:
            lines.append(
                "  (lists: one LR per param group, in the ratios the sweep kept; "
                "the suggested LR is group 0's, before any lr_scale)"
            )
    if result.repeats is not None:
        lines.append(result.repeats.stability())
    return lines


def uncertainty_line(result: SweepResult) -> str:
    """One line on how sure the suggestion is, e.g. "Confidence: high; ..."."""
    u = result.uncertainty
    parts = [f"Confidence: {u.confidence}" + (f" ({'; '.join(u.reasons)})" if u.reasons else "")]
    if u.near_min is not None:
        lo, hi = u.near_min
        where = f"for lr {lo:.2g} to {hi:.2g}" if lo != hi else f"only at lr {lo:.2g}"
        parts.append(f"loss within {u.margin:.0%} of its minimum {where}")
    here, lower = u.progress.get("at_suggestion"), u.progress.get("decade_lower")
    if here is not None and lower is not None:
        parts.append(f"the curve is {_down(here)} at the suggestion, {_down(lower)} a decade lower")
    return "; ".join(parts)


def _down(progress: float) -> str:
    """How far down its whole drop the curve is; a negative share reads as what it means."""
    return f"{progress:.0%} of the way down" if progress >= 0 else "above where it started"


def suggestion_line(result: SweepResult) -> str:
    """The last line of stdout (rich markup): the suggested LR, its method and the stop."""
    s = result.suggestion
    stop = f"{result.stop_reason} after {result.steps_run} steps"
    return f"Suggested learning rate: [bold green]{s.lr:.3g}[/] ({s.method}; {stop})"


def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else str(x)

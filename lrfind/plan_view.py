"""What issue 7 adds to the outputs: schedules, stability and the sanity prior.

Kept apart from report.py and cli.py so that both only gain one call: the
report's extra keys (`plan_keys`) and the extra terminal lines (`terminal_lines`).
"""

from __future__ import annotations

from typing import Any

from lrfind.priors import prior_dict
from lrfind.result import SweepResult

_LABELS = {"one_cycle": "one-cycle", "cyclic": "cyclic", "warmup_cosine": "warmup+cosine"}


def plan_keys(result: SweepResult) -> dict[str, Any]:
    """The report keys "schedules", "prior" and "repeats" (each may be null)."""
    plan = result.schedules()
    return {
        "schedules": None if plan is None else plan.to_dict(),
        "prior": prior_dict(result.suggested_lr, result.optimizer),
        "repeats": None if result.repeats is None else result.repeats.to_dict(),
    }


def terminal_lines(result: SweepResult) -> list[str]:
    """Plain lines for stdout before the suggestion line: the schedules, and how stable it is."""
    lines = []
    plan = result.schedules()
    if plan is not None:
        lines.append(
            f"Schedules for a {plan.total_steps}-step run (the loss falls from lr "
            f"{plan.base_lr:.3g} to {plan.max_lr:.3g}; snippets in report.json):"
        )
        for name, schedule in plan.schedules.items():
            text = schedule.summary
            if name == "warmup_cosine":
                text += f"  # optimizer lr={plan.peak_lr:.3g}"
            lines.append(f"  {_LABELS[name]:<14} {text}")
    if result.repeats is not None:
        lines.append(result.repeats.stability())
    return lines

"""report.json: the machine-readable result (schema version 1), written atomically.

Its reader, which checks what it reads, is lrfind.output.reader.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from lrfind._version import __version__
from lrfind.core.priors import prior_dict
from lrfind.core.result import SweepResult
from lrfind.output.files import write_atomic
from lrfind.output.schema import SCHEMA_VERSION


def report_dict(
    result: SweepResult,
    *,
    settings: Mapping[str, Any] | None = None,
    total_s: float | None = None,
    build_s: float | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The report as plain JSON-ready data (non-finite floats become None).

    `settings` is every effective setting (spec, build kwargs ...), defaulting
    to the sweep's config; `total_s` and `build_s` are the CLI's timings;
    `error` is set when the sweep failed part-way.
    """
    h = result.history
    t = result.training
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "suggested_lr": result.suggested_lr,
        "method": result.method,
        "rule": _rule(result),
        "lr_at_min_loss": result.lr_at_min_loss,
        "min_smoothed_loss": result.min_smoothed_loss,
        "stopped_early": result.stopped_early,
        "stop_reason": result.stop_reason,
        "steps_run": result.steps_run,
        "overshoot_steps": h.overshoot,
        "skipped_steps": h.skipped,
        "pin_memory": h.pinned,
        "suggestions": {name: s.lr for name, s in result.suggestions.items()},
        "no_suggestion_reasons": {n: s.reason for n, s in result.suggestions.items() if s.reason},
        "uncertainty": _uncertainty(result),
        "warnings": list(result.warnings),
        "loss_source": result.loss_source,
        # The optimizer, its param groups (and their LRs at the suggestion), clipping, the stack.
        "training": None if t is None else t.to_dict(result.suggested_lr),
        **_plan_keys(result),
        "history": h.to_dict(),
        "config": dict(settings) if settings is not None else result.config.to_dict(),
        "environment": {
            "lrfind": __version__,
            "torch": _torch_version(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "device": result.device,
        },
        "timing": {
            "build_s": build_s,  # importing the SPEC and running build()
            "sweep_s": result.sweep_s,  # setup_s + loop_s
            "setup_s": h.setup_s,  # copy the model, build the optimizer, compile
            "loop_s": h.loop_s,  # the optimizer steps
            "total_s": total_s,
        },
    }
    if error is not None:
        report["error"] = error
    return _jsonable(report)


def _rule(result: SweepResult) -> dict[str, Any]:
    """The stop rule and the suggestion rule the sweep ran with, and their parameters."""
    from lrfind.core.stopping import robust_rule

    c = result.config
    if c.diverge_threshold is not None:
        stop = {"name": "ratio", "diverge_threshold": c.diverge_threshold}
    else:
        stop = {"name": "robust", "k": c.stop_k, "fraction": c.stop_fraction}
    return {"stop": stop, "smoothing": c.smoothing, "robust": robust_rule(c).to_dict()}


def _plan_keys(result: SweepResult) -> dict[str, Any]:
    """The report keys "schedules", "prior", "repeats" and "refine" (each may be null)."""
    plan, refinement = result.schedules(), result.refinement
    return {
        "schedules": None if plan is None else plan.to_dict(),
        "prior": prior_dict(result.suggested_lr, result.optimizer),
        "repeats": None if result.repeats is None else result.repeats.to_dict(),
        "refine": None if refinement is None else refinement.to_dict(),
    }


def _torch_version() -> str | None:
    """The torch the sweep ran with: the loaded module's, else the installed one's (no import)."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return str(torch.__version__)
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def _uncertainty(result: SweepResult) -> dict[str, Any]:
    u = result.uncertainty
    return {
        "confidence": u.confidence,
        "reasons": u.reasons,
        "near_min_lr": u.near_min,  # [low, high]: smoothed loss within margin x drop of its minimum
        "margin": u.margin,
        "progress": u.progress,  # fraction of the loss's drop reached at the LR, /10, x10
    }


def write_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write the report as JSON to `path` atomically; return the path.

    A reader sees the old file or the new one, never half of one: the JSON
    goes to a temporary file in the same folder, which then replaces `path`.
    """
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    return write_atomic(path, lambda f: f.write(text.encode()))


def _jsonable(value: Any) -> Any:
    """Plain JSON types only: NaN/inf -> None, tuples -> lists, the rest -> str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _jsonable(value.item())
    return str(value)

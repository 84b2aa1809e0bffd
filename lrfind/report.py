"""report.json: the machine-readable result (schema version 1), written atomically."""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from lrfind import __version__
from lrfind.plan_view import plan_keys
from lrfind.result import SweepResult

SCHEMA_VERSION = 1


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
    import torch

    h = result.history
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "suggested_lr": result.suggested_lr,
        "method": result.method,
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
        **plan_keys(result),
        "history": h.to_dict(),
        "config": dict(settings) if settings is not None else result.config.to_dict(),
        "environment": {
            "lrfind": __version__,
            "torch": torch.__version__,
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


def read_report(path: str | Path) -> dict[str, Any]:
    """Load a report.json written by lrfind."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(file)` on a temporary file next to `path`, then rename it onto `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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

"""Reading a saved report.json back: the one reader, which checks what it reads.

`read_report` gives the checked JSON (compare, schedule --from-report);
`result_from_report` rebuilds the SweepResult to re-render it (show). Neither
torch nor matplotlib is imported here, so `lrfind compare` and `lrfind show
--no-plot` work where only the report is at hand (a CI artifact).
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrfind.config.settings import METHOD_NAMES, SweepConfig
from lrfind.core.history import STOP_REASONS, History
from lrfind.core.refinement import Refinement
from lrfind.core.repeats import RepeatRun, Repeats
from lrfind.core.training import Group, Training
from lrfind.errors import ConfigError, UsageError
from lrfind.output.inputs import parse_json, read_text
from lrfind.output.schema import READ_SETTINGS, check_report

if TYPE_CHECKING:  # annotation only: the result's modules load numpy, which compare never needs
    from lrfind.core.result import SweepResult

_REQUIRED = ("schema_version", "suggested_lr", "stop_reason")
_HINT = "give the report.json that `lrfind run` wrote"


def read_report(path: str | Path) -> dict[str, Any]:
    """Read and check a report.json written by `lrfind run`; UsageError if it is not one.

    Every key a command reads back is checked for its type (lrfind.output.schema).
    """
    report = parse_json(read_text(path, _HINT), path, _HINT)
    missing = [k for k in _REQUIRED if not isinstance(report, dict) or k not in report]
    if missing:
        raise UsageError(
            f"{path}: not an lrfind report (missing {', '.join(missing)}); "
            "give the report.json that `lrfind run` wrote"
        )
    lr = report["suggested_lr"]
    if lr is not None and not (_is_number(lr) and lr > 0):
        raise UsageError(f"{path}: suggested_lr is {lr!r}, expected a number > 0 or null")
    check_report(report, path)
    return report


def result_from_report(report: dict[str, Any], path: str | Path = "report") -> SweepResult:
    """Rebuild the SweepResult a report was written from, for the table and the plot.

    The suggestions are the ones the report holds (not recomputed), so `show`
    renders what `run` decided, whatever version of lrfind wrote it.
    """
    from lrfind.core.result import SweepResult  # numpy: only for show, never for compare
    from lrfind.core.suggest import Suggestion, nearest_index

    h = report.get("history")
    try:
        lrs, losses, smoothed = _curve(h)
    except (TypeError, KeyError, ValueError, OverflowError):
        raise UsageError(f"{path}: its history is missing or not lists of numbers") from None
    bad_lr = not all(math.isfinite(x) and x > 0 for x in lrs)
    if not lrs or not len(lrs) == len(losses) == len(smoothed) or bad_lr:
        raise UsageError(f"{path}: its history needs equally long lists, with LRs > 0")
    stop = report["stop_reason"]
    if stop not in STOP_REASONS:
        raise UsageError(f"{path}: stop_reason {stop!r} is not one of {', '.join(STOP_REASONS)}")
    training = _training(report.get("training"))
    history = History(
        lrs=lrs,
        losses=losses,
        smoothed=smoothed,
        stop_reason=stop,
        skipped=skipped if _is_count(skipped := report.get("skipped_steps")) else 0,
        optimizer="" if training is None else training.optimizer,
        training=training,
    )

    method = str(report.get("method", "min_div_10"))
    if method not in METHOD_NAMES:
        raise UsageError(f"{path}: its method {method!r} is not one of {', '.join(METHOD_NAMES)}")
    reasons = report.get("no_suggestion_reasons") or {}
    suggestions = {}
    for name, lr in (report.get("suggestions") or {method: report["suggested_lr"]}).items():
        ok = _is_number(lr) and lr > 0
        index = nearest_index(lrs, lr) if ok else None
        suggestions[name] = Suggestion(name, lr if ok else None, index, reasons.get(name))
    if method not in suggestions:
        raise UsageError(f"{path}: its method {method!r} has no entry in its suggestions")
    # suggested_lr is the report's headline, the one compare reads: show and --from-report
    # take it too, also where a hand edit left suggestions[method] behind.
    lr = report["suggested_lr"]
    index = nearest_index(lrs, lr) if lr is not None else None
    reason = suggestions[method].reason if lr is None else None
    suggestions[method] = Suggestion(method, lr, index, reason)

    config = _config(report.get("config"), method)
    at_min = report.get("lr_at_min_loss")
    return SweepResult(
        history=history,
        suggestions=suggestions,
        method=method,
        warnings=[str(w) for w in report.get("warnings") or []],
        config=config,
        device=str((report.get("environment") or {}).get("device", "unknown device")),
        sweep_s=float((report.get("timing") or {}).get("sweep_s") or 0.0),
        loss_source=str(report.get("loss_source", "train")),
        min_index=nearest_index(lrs, at_min) if _is_number(at_min) and at_min > 0 else None,
        repeats=_repeats(report.get("repeats")),
        refinement=_refinement(report.get("refine")),
    )


def _config(saved: Any, method: str) -> SweepConfig:
    """The sweep's settings. One show never reads may be bad (another version's): then only
    those the curve is read with (read_report checked them), the rest at their defaults."""
    saved = saved if isinstance(saved, dict) else {}
    known = {f.name for f in fields(SweepConfig)}
    settings = {k: v for k, v in saved.items() if k in known and v is not None}
    try:
        return SweepConfig(**{**settings, "method": method})
    except (ConfigError, TypeError, ValueError):
        return SweepConfig(
            **{k: settings[k] for k in READ_SETTINGS if k in settings}, method=method
        )


# What the plot shows beyond the curve (the optimizer in its title, the repeats' band) is
# rebuilt too, so that `show` redraws the plot `run` drew. read_report has checked every
# key read here; in a report it did not check, a broken part is left out (None).


def _training(saved: Any) -> Training | None:
    try:
        groups = tuple(
            Group(
                ratio=float(g["lr_ratio"]),
                params=int(g["params"]),
                weight_decay=_optional(g.get("weight_decay")),
                lr_scale=_optional(g.get("lr_scale")),
            )
            for g in saved.get("param_groups") or []
        )
        return Training(
            optimizer=str(saved["optimizer"]),
            origin=str(saved["origin"]),
            hyper=dict(saved.get("hyperparameters") or {}),
            groups=groups,
            clip_grad=_optional(saved.get("clip_grad")),
            clip_mode=str(saved.get("clip_mode") or "norm"),
            accumulate=int(saved.get("accumulate") or 1),
            amp=None if saved.get("amp") is None else str(saved["amp"]),
            stack=None if saved.get("stack") is None else str(saved["stack"]),
            took=tuple(str(x) for x in saved.get("took") or ()),
            set_aside=tuple(str(x) for x in saved.get("set_aside") or ()),
            notes=[str(x) for x in saved.get("notes") or ()],
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return None


def _repeats(saved: Any) -> Repeats | None:
    try:
        runs = []
        for run in saved["runs"]:
            lrs, losses, smoothed = _curve(run["history"])
            history = History(
                lrs=lrs, losses=losses, smoothed=smoothed, stop_reason=run["stop_reason"]
            )
            lr = _optional(run.get("suggested_lr"))
            suggestions = {str(k): _optional(v) for k, v in (run.get("suggestions") or {}).items()}
            runs.append(RepeatRun(int(run["seed"]), lr, suggestions, history))
        shown = int(saved["shown"])
        if not runs or not 0 <= shown < len(runs):
            return None
        return Repeats(
            runs=runs,
            median_lr=_optional(saved.get("median_lr")),
            spread_decades=_optional(saved.get("spread_decades")),
            std_decades=_optional(saved.get("std_decades")),
            shown=shown,
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return None


def _refinement(saved: Any) -> Refinement | None:
    """--refine's probes as the report holds them; None without (or a hand-broken one)."""
    if saved is None:
        return None
    try:
        return Refinement.from_dict(saved)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError):
        return None


def _curve(saved: Any) -> tuple[list[float], list[float], list[float]]:
    """(lrs, losses, smoothed) of a history as History.to_dict stored it; raises if it is not."""
    lrs = [float(x) for x in saved["lr"]]
    return lrs, [_float(x) for x in saved["loss"]], [_float(x) for x in saved["smoothed_loss"]]


def _optional(x: Any) -> float | None:
    return float(x) if _is_number(x) else None


def _float(x: Any) -> float:
    return math.nan if x is None else float(x)  # the report writes NaN/inf as null


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

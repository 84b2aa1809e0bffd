"""Drift between two sweeps' suggestions, in decades: the check a CI job runs.

Plain JSON and math only (no torch, numpy or matplotlib), so it runs in a
second on a CI runner that holds nothing but the two reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrfind.errors import UsageError
from lrfind.output.reader import read_report

# Stop reasons after which a sweep's curve cannot be trusted, whatever it suggested. A NaN
# stop is not one: the loss turning NaN is how many sweeps end past the LR that diverges,
# and `lrfind run` stands by a suggestion made before it (exit 0).
FAILED_STOPS = ("error", "interrupted")


@dataclass(frozen=True)
class Side:
    """One report's part in a comparison."""

    path: str
    lr: float | None
    method: str
    stop_reason: str
    steps_run: int | None
    #: How it swept, for the note when the two differ: optimizer, steps, start_lr, end_lr.
    setup: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "suggested_lr": self.lr,
            "method": self.method,
            "stop_reason": self.stop_reason,
            "steps_run": self.steps_run,
        }


@dataclass(frozen=True)
class Comparison:
    """The verdict: `ok` is False when the new sweep failed or drifted past the tolerance.

    `drift` is log10(new / baseline) in decades (None when the new sweep failed).
    """

    baseline: Side
    new: Side
    tolerance: float
    drift: float | None
    failure: str | None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.drift is not None and abs(self.drift) <= self.tolerance

    @property
    def drift_shown(self) -> str | None:
        """The drift with a sign and as many decimals (2 at least) as the verdict needs: the
        number shown is past the tolerance exactly when the drift is, and 0 only when it is."""
        d = self.drift
        if d is None:
            return None
        for decimals in range(2, 18):
            text = f"{d:+.{decimals}f}"
            shown = abs(float(text))
            if (shown > self.tolerance) == (abs(d) > self.tolerance) and (shown > 0) == (d != 0):
                return text
        return f"{d:+.3g}"  # below 1e-17 decades: 1e-20 reads better than 20 zeros

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "drift_decades": self.drift,
            "tolerance_decades": self.tolerance,
            "new_failed": self.failure,
            "baseline": self.baseline.to_dict(),
            "new": self.new.to_dict(),
        }


def compare_files(baseline: str | Path, new: str | Path, tolerance: float) -> Comparison:
    """Compare two report.json files. UsageError for an unreadable file or a bad tolerance.

    Example:
        >>> compare_files("base/report.json", "new/report.json", 0.3).ok  # doctest: +SKIP
        True
    """
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise UsageError(f"--tolerance {tolerance}: must be a number of decades >= 0, e.g. 0.3")
    tolerance = abs(tolerance)  # -0.0 is 0: "within 0 decades", not "-0"
    base = _side(baseline, read_report(baseline))
    unusable = _failure(base)
    if unusable:
        raise UsageError(
            f"{baseline}: the baseline is unusable: {unusable}; "
            "use a baseline from a sweep that succeeded"
        )
    side = _side(new, read_report(new))
    failure = _failure(side)
    # A difference of logs: the ratio itself can overflow or underflow (1e-300 / 1e308).
    drift = None if side.lr is None else math.log10(side.lr) - math.log10(base.lr)
    return Comparison(base, side, tolerance, drift, failure)


def _failure(side: Side) -> str | None:
    if side.lr is None:
        return f"no suggested LR (stop: {side.stop_reason})"
    if side.stop_reason in FAILED_STOPS:
        return f"the sweep stopped on '{side.stop_reason}'"
    return None


def _side(path: str | Path, report: dict[str, Any]) -> Side:
    steps = report.get("steps_run")
    if report.get("error"):  # a sweep that raised mid-way: its report says why
        report = {**report, "stop_reason": "error"}
    elif _cut_short(report):  # --repeats stopped by Ctrl-C: the finished ones are a part
        report = {**report, "stop_reason": "interrupted"}
    return Side(
        path=str(path),
        lr=report["suggested_lr"],
        method=str(report.get("method", "?")),
        stop_reason=str(report["stop_reason"]),
        steps_run=steps if isinstance(steps, int) else None,
        setup=_setup(report),
    )


def _setup(report: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    training = report.get("training") if isinstance(report.get("training"), dict) else {}
    config = report.get("config") if isinstance(report.get("config"), dict) else {}
    values = {"optimizer": training.get("optimizer"), **{k: config.get(k) for k in _SETUP}}
    return tuple((k, v) for k, v in values.items() if isinstance(v, str | int | float))


_SETUP = ("steps", "start_lr", "end_lr", "accumulate", "refine")


def setup_differences(c: Comparison) -> list[str]:
    """'optimizer SGD vs AdamW', ... for what both reports record and that differs."""
    new = dict(c.new.setup)
    return [
        f"{k} {_setting(v)} vs {_setting(new[k])}"
        for k, v in c.baseline.setup
        if k in new and new[k] != v
    ]


def _setting(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cut_short(report: dict[str, Any]) -> bool:
    """Whether fewer --repeats finished than were asked for (the run was interrupted)."""
    config, repeats = report.get("config"), report.get("repeats")
    if not (isinstance(config, dict) and isinstance(repeats, dict)):
        return False
    asked, count = config.get("repeats"), repeats.get("count")
    return isinstance(asked, int) and isinstance(count, int) and count < asked

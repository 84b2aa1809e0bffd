"""`lrfind compare`, `show` and `diagnose`: parse, call, render.

The logic lives in lrfind.tools (compare, diagnose, losses) and lrfind.output
(the report reader, the table, the plot); matplotlib is imported only where
a PNG is written, torch never.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from lrfind.cli.console import Debug, NoPlot, fail, out_dir_option, stderr, stdout, wrote
from lrfind.cli.streams import Results
from lrfind.config.paths import user_path
from lrfind.errors import LrfindError, UsageError, shortened
from lrfind.output.paths import cannot_write, prepare_dir

PLOT_NAME = "lr_finder.png"
DIAGNOSIS_PNG = "diagnosis.png"

COMPARE_EXAMPLES = """
Examples:

  lrfind compare base/report.json new/report.json --tolerance 0.3

  lrfind compare base/report.json new/report.json --json > drift.json
"""
SHOW_EXAMPLES = """
Examples:

  lrfind show lrfind-out/report.json

  lrfind show lrfind-out/report.json --no-plot
"""
DIAGNOSE_EXAMPLES = """
Examples:

  python sample_models/digits_train_log.py --lr 3 --out digits_log.csv

  lrfind diagnose digits_log.csv

  lrfind diagnose digits_log.csv --oscillation 0.3 --no-plot
"""


def compare(
    baseline: Annotated[str, typer.Argument(help="The baseline report.json.", show_default=False)],
    new: Annotated[str, typer.Argument(help="The new report.json.", show_default=False)],
    tolerance: Annotated[float, typer.Option(help="Largest allowed drift, in decades.")] = 0.3,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    debug: Debug = False,
) -> None:
    """Compare two sweeps' suggestions; exit 1 if the new one drifted or failed."""
    from lrfind.tools.compare import compare_files

    try:
        c = compare_files(baseline, new, tolerance)
    except LrfindError as e:
        fail(stderr(), e, debug)
    results = Results(sys.stdout)
    if json_out:
        results.write(json.dumps(c.to_dict(), indent=2, allow_nan=False) + "\n")
    else:
        from lrfind.tools.tables import comparison_lines

        for line in comparison_lines(c):
            results.write(line + "\n")
    raise typer.Exit(0 if c.ok else 1)


def show(
    report: Annotated[
        str, typer.Argument(help="A report.json from `lrfind run`.", show_default=False)
    ],
    out_dir: Annotated[str | None, out_dir_option("the report's folder", "lr_finder.png")] = None,
    no_plot: NoPlot = False,
    debug: Debug = False,
) -> None:
    """Re-render the table and the plot of a saved report.json, without torch."""
    from lrfind.output.reader import read_report, result_from_report

    err = stderr()
    try:
        saved = read_report(report)
        failure = saved.get("error")  # the partial report of a sweep that failed
        if failure:  # one line, however the file was written (or edited)
            failure = shortened(failure if isinstance(failure, str) else repr(failure))
        folder = None
        if not no_plot:  # checked before the work, like every output
            where = out_dir if out_dir is not None else user_path(report).parent
            folder = prepare_dir(where, (PLOT_NAME,))
        if failure and not _has_points(saved):
            err.print(f"Error: the report is of a sweep that failed: {failure}", markup=False)
            raise typer.Exit(1)
        result = result_from_report(saved, report)
    except LrfindError as e:
        fail(err, e, debug)
    from lrfind.output.terminal import (
        plan_lines,
        result_table,
        suggestion_line,
        training_lines,
        uncertainty_line,
    )

    # stdout is what run printed, line for line: nothing after a failed sweep; else the
    # table and what was swept, then with a suggestion the schedules and the stability.
    out = stdout()
    s = result.suggestion
    if not failure:
        out.print(result_table(result))
    for warning in result.warnings:
        err.print(f"[yellow]Warning:[/] {escape(warning)}")
    if folder is not None:
        from lrfind.output.plot import save_plot

        wrote(err, _written(err, debug, lambda p: save_plot(result, p), folder / PLOT_NAME))
    if failure:
        err.print(f"Error: the report is of a sweep that failed: {failure}", markup=False)
        raise typer.Exit(1)
    for line in [*training_lines(result), *(plan_lines(result) if s.lr is not None else [])]:
        out.print(line, markup=False, soft_wrap=True)
    if s.lr is None:
        stop = f"{result.stop_reason} after {result.steps_run} steps"
        why = s.reason or "it gives no reason (a hand-edited report?)"
        err.print(f"Error: the report has no suggested LR: {why} ({stop})", markup=False)
        raise typer.Exit(1)
    out.print(escape(uncertainty_line(result)), soft_wrap=True)
    out.print(suggestion_line(result))


def _has_points(report: dict[str, Any]) -> bool:
    history = report.get("history")
    return isinstance(history, dict) and bool(history.get("lr"))


def _written(err: Console, debug: bool, save: Callable[[Path], Path], path: Path) -> Path:
    """save(path), a failed write (a full disk) in one line: exit 2."""
    try:
        return save(path)
    except OSError as e:
        fail(err, UsageError(cannot_write(path, e)), debug)


def diagnose(
    losses: Annotated[
        str,
        typer.Argument(
            help="CSV or JSON of train (and val) loss per step or epoch.", show_default=False
        ),
    ],
    window: Annotated[
        float, typer.Option(help="Fraction of points in the first/last windows.")
    ] = 0.2,
    diverge_rise: Annotated[
        float, typer.Option(help="Diverging: last window this much above the best loss before it.")
    ] = 0.5,
    spike: Annotated[
        float, typer.Option(help="Diverging: a loss this many times the highest after it.")
    ] = 10.0,
    stuck_drop: Annotated[
        float, typer.Option(help="Stuck: the loss fell by less than this fraction.")
    ] = 0.05,
    oscillation: Annotated[
        float,
        typer.Option(help="Oscillating: second-half zig-zag above this fraction of the loss."),
    ] = 0.1,
    overfit_rise: Annotated[
        float,
        typer.Option(help="Overfitting: val ends this much above its minimum while train falls."),
    ] = 0.1,
    climb_back: Annotated[
        float,
        typer.Option(help="Diverging: after falling, the loss climbs back this share of its fall."),
    ] = 0.5,
    out_dir: Annotated[str, out_dir_option("lrfind-out", "diagnosis.png")] = "lrfind-out",
    no_plot: NoPlot = False,
    debug: Debug = False,
) -> None:
    """Classify a training run (diverging, stuck, oscillating, overfitting, healthy) and advise."""
    from lrfind.tools.diagnose import Thresholds
    from lrfind.tools.diagnose import diagnose as classify
    from lrfind.tools.losses import load_losses

    err = stderr()
    try:
        log = load_losses(losses)
        t = Thresholds(
            window, diverge_rise, spike, stuck_drop, oscillation, overfit_rise, climb_back
        )
        d = classify(log, t)
        folder = None if no_plot else prepare_dir(out_dir, (DIAGNOSIS_PNG,))
    except LrfindError as e:
        fail(err, e, debug)
    from lrfind.tools.tables import diagnosis_table

    out = stdout()
    out.print(diagnosis_table(d))
    if folder is not None:
        from lrfind.tools.figures import diagnosis_figure, save_figure

        figure = diagnosis_figure(log, d)
        wrote(err, _written(err, debug, lambda p: save_figure(figure, p), folder / DIAGNOSIS_PNG))
    out.print(f"Diagnosis: [bold]{d.kind}[/]: {escape(d.advice)}")

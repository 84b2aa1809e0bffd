"""`lrfind compare`, `show` and `diagnose` (and `register`, which adds them and
`schedule` from cli_schedule.py to the main app): parse, call, render.

The logic lives in compare.py, saved.py, diagnose.py and schedules.py; torch
is imported only by `schedule`, matplotlib only where a PNG is written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from lrfind.errors import LrfindError

TOOL_EXAMPLES = """
Examples:

  lrfind schedule onecycle cosine warmup_cosine --lr 0.1 --steps 1000

  lrfind schedule steplr cyclic --from-report lrfind-out/report.json --log-y

  lrfind compare base/report.json new/report.json --tolerance 0.3

  lrfind show lrfind-out/report.json --no-plot

  lrfind diagnose losses.csv --no-plot
"""


def compare(
    baseline: Annotated[str, typer.Argument(help="The baseline report.json.", show_default=False)],
    new: Annotated[str, typer.Argument(help="The new report.json.", show_default=False)],
    tolerance: Annotated[float, typer.Option(help="Largest allowed drift, in decades.")] = 0.3,
    json_out: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Compare two sweeps' suggestions; exit 1 if the new one drifted or failed."""
    from lrfind.compare import compare_files

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        c = compare_files(baseline, new, tolerance)
    except LrfindError as e:
        fail(err, e)
    if json_out:
        sys.stdout.write(json.dumps(c.to_dict(), indent=2, allow_nan=False) + "\n")
    else:
        from lrfind.tool_tables import comparison_lines

        for line in comparison_lines(c):
            typer.echo(line)
    raise typer.Exit(0 if c.ok else 1)


def show(
    report: Annotated[
        str, typer.Argument(help="A report.json from `lrfind run`.", show_default=False)
    ],
    out_dir: Annotated[
        str | None,
        typer.Option(help="Folder for lr_finder.png. [default: the report's folder]"),
    ] = None,
    no_plot: Annotated[
        bool, typer.Option("--no-plot", help="Skip the plot (and matplotlib).")
    ] = False,
) -> None:
    """Re-render the table and the plot of a saved report.json, without torch."""
    from lrfind.saved import load_report, result_from_report

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        result = result_from_report(load_report(report), report)
    except LrfindError as e:
        fail(err, e)
    from lrfind.table import result_table, suggestion_line, uncertainty_line

    out = Console(highlight=False)
    out.print(result_table(result))
    for warning in result.warnings:
        err.print(f"[yellow]Warning:[/] {escape(warning)}")
    if not no_plot:
        from lrfind.plot import save_plot

        folder = Path(out_dir) if out_dir else Path(report).parent
        folder.mkdir(parents=True, exist_ok=True)
        err.print(f"[dim]Wrote {escape(str(save_plot(result, folder / 'lr_finder.png')))}[/]")
    s = result.suggestion
    if s.lr is None:
        stop = f"{result.stop_reason} after {result.steps_run} steps"
        err.print(f"Error: the report has no suggested LR: {s.reason} ({stop})", markup=False)
        raise typer.Exit(1)
    out.print(escape(uncertainty_line(result)), soft_wrap=True)
    out.print(suggestion_line(result))


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
    out: Annotated[str, typer.Option(help="PNG to write.")] = "lrfind-out/diagnosis.png",
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Skip the PNG.")] = False,
) -> None:
    """Classify a training run (diverging, stuck, oscillating, overfitting, healthy) and advise."""
    from lrfind.diagnose import Thresholds
    from lrfind.diagnose import diagnose as classify
    from lrfind.losses import load_losses

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        log = load_losses(losses)
        t = Thresholds(window, diverge_rise, spike, stuck_drop, oscillation, overfit_rise)
        d = classify(log, t)
    except LrfindError as e:
        fail(err, e)
    from lrfind.tool_tables import diagnosis_table

    console = wide_console()
    console.print(diagnosis_table(d))
    if not no_plot:
        from lrfind.tool_plots import diagnosis_figure, save_figure

        err.print(f"[dim]Wrote {escape(str(save_figure(diagnosis_figure(log, d), out)))}[/]")
    console.print(f"Diagnosis: [bold]{d.kind}[/]: {escape(d.advice)}")


def register(app: typer.Typer) -> None:
    """Add the four commands to `app`, in the order `--help` lists them."""
    from lrfind.cli_schedule import schedule

    for command in (schedule, compare, show, diagnose):
        app.command(epilog=TOOL_EXAMPLES)(command)


def wide_console() -> Console:
    """stdout; 120 columns when it is not a terminal (CI logs, pipes), where rich assumes 80."""
    console = Console(highlight=False, soft_wrap=True)
    return console if console.is_terminal else Console(highlight=False, soft_wrap=True, width=120)


def fail(err: Console, e: LrfindError) -> NoReturn:
    err.print(f"Error: {e}", markup=False)
    raise typer.Exit(e.exit_code)

"""`lrfind schedule`: parse the scheduler options, step the real schedulers, render.

The logic is in lrfind.tools.schedule (stepping), lrfind.tools.schedulers (the
catalogue), lrfind.tools.report_plan (what a report's plan was made from) and
lrfind.tools.figures (the PNG).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from lrfind.cli.console import Debug, NoPlot, fail, out_dir_option, stderr, stdout, wrote
from lrfind.errors import LrfindError, UsageError
from lrfind.output.paths import cannot_write, prepare_dir

if TYPE_CHECKING:
    from lrfind.tools.report_plan import ReportPlan
    from lrfind.tools.schedule import Trace

EXAMPLES = """
Examples:

  lrfind schedule onecycle cosine warmup_cosine --lr 0.1 --steps 1000

  lrfind schedule steplr cyclic --from-report lrfind-out/report.json --log-y

  lrfind schedule warmup_cosine --lr 3e-4 --steps 5000 --warmup-steps 250 --no-plot
"""
PNG_NAME = "schedules.png"
DEFAULT_STEPS = 100  # without a report's plan to take the length from


class Anneal(str, Enum):
    cos = "cos"
    linear = "linear"


class CyclicMode(str, Enum):
    triangular = "triangular"
    triangular2 = "triangular2"
    exp_range = "exp_range"


def _opt(help_: str) -> typer.models.OptionInfo:
    return typer.Option(help=help_, show_default=False)


def schedule(
    names: Annotated[
        list[str], typer.Argument(help="Schedulers, e.g. onecycle cosine.", metavar="NAME")
    ],
    lr: Annotated[float | None, _opt("Base / peak LR (or take it from --from-report).")] = None,
    steps: Annotated[
        int | None, _opt("Steps to simulate. [100; --from-report: the plan's total_steps]")
    ] = None,
    from_report: Annotated[
        str | None,
        _opt(
            "Take the LR from a sweep's report.json: onecycle, cyclic and warmup_cosine as "
            "`lrfind run` planned them (per param group; options given replace the planned "
            "values, the [defaults] below are --lr's), the rest at suggested_lr (3 digits)."
        ),
    ] = None,
    log_y: Annotated[bool, typer.Option("--log-y", help="Log-scale LR axis.")] = False,
    overlay: Annotated[
        bool, typer.Option("--overlay", help="All on one axis, not one panel each.")
    ] = False,
    out_dir: Annotated[str, out_dir_option("lrfind-out", PNG_NAME)] = "lrfind-out",
    no_plot: NoPlot = False,
    debug: Debug = False,
    step_size: Annotated[int | None, _opt("steplr: steps per decay. [steps//3]")] = None,
    gamma: Annotated[
        float | None,
        _opt(
            "steplr, multisteplr: decay factor [0.1]; exponentiallr: per step [LR/100 at the end]."
        ),
    ] = None,
    milestones: Annotated[str | None, _opt("multisteplr: e.g. 50,75. [steps/2, 3*steps/4]")] = None,
    power: Annotated[float | None, _opt("polynomiallr: power. [1]")] = None,
    eta_min: Annotated[
        float | None, _opt("cosine, warm restarts, warmup_cosine: floor. [0]")
    ] = None,
    t0: Annotated[int | None, _opt("warm restarts: first period T_0. [steps//4]")] = None,
    t_mult: Annotated[int | None, _opt("warm restarts: period multiplier. [1]")] = None,
    pct_start: Annotated[float | None, _opt("onecyclelr: rising fraction. [0.3]")] = None,
    div_factor: Annotated[float | None, _opt("onecyclelr: start = lr / this. [25]")] = None,
    final_div_factor: Annotated[float | None, _opt("onecyclelr: end = start / this. [1e4]")] = None,
    anneal_strategy: Annotated[Anneal | None, _opt("onecyclelr: cos or linear. [cos]")] = None,
    base_lr: Annotated[
        float | None, _opt("cycliclr: lower bound (max_lr is --lr). [lr/10]")
    ] = None,
    step_size_up: Annotated[int | None, _opt("cycliclr: steps per half cycle. [steps//4]")] = None,
    cyclic_mode: Annotated[CyclicMode | None, _opt("cycliclr mode. [triangular]")] = None,
    warmup_steps: Annotated[
        int | None, _opt("warmup_cosine: linear warmup steps. [steps//10]")
    ] = None,
    warmup_start_factor: Annotated[
        float | None, _opt("warmup_cosine: warmup starts at lr x this. [0.01]")
    ] = None,
    plateau_losses: Annotated[
        str | None,
        _opt("reducelronplateau: CSV/JSON loss log to step it with (val_loss, else train_loss)."),
    ] = None,
    factor: Annotated[
        float | None, _opt("reducelronplateau: LR x this on a plateau. [0.1]")
    ] = None,
    patience: Annotated[
        int | None, _opt("reducelronplateau: steps without improvement. [10]")
    ] = None,
    threshold: Annotated[
        float | None, _opt("reducelronplateau: relative improvement. [1e-4]")
    ] = None,
) -> None:
    """Step real torch.optim.lr_scheduler objects and plot their LR over the steps."""
    from lrfind.tools.schedulers import Options, resolve_names

    err = stderr()
    try:
        canonical = resolve_names(names)
        base, source = _schedule_lr(lr, from_report)
        n = steps if steps is not None else source.total_steps if source else DEFAULT_STEPS
        options = Options(
            step_size=step_size,
            gamma=gamma,
            milestones=_ints(milestones),
            power=power,
            eta_min=eta_min,
            t0=t0,
            t_mult=t_mult,
            pct_start=pct_start,
            div_factor=div_factor,
            final_div_factor=final_div_factor,
            anneal_strategy=anneal_strategy.value if anneal_strategy else None,
            base_lr=base_lr,
            step_size_up=step_size_up,
            cyclic_mode=cyclic_mode.value if cyclic_mode else None,
            warmup_steps=warmup_steps,
            warmup_start_factor=warmup_start_factor,
            factor=factor,
            patience=patience,
            threshold=threshold,
            plateau_losses=_plateau_trace(plateau_losses) if plateau_losses else None,
        )
        from lrfind.tools.schedule import PLANNED, simulate, simulate_planned

        folder = None if no_plot else prepare_dir(out_dir, (PNG_NAME,))
        traces = [
            simulate_planned(name, source, n, options)
            if source is not None and name in PLANNED
            else simulate(name, base, n, options)
            for name in canonical
        ]
    except LrfindError as e:
        fail(err, e, debug)
    from lrfind.tools.tables import schedule_table

    out = stdout()
    out.print(schedule_table(traces))
    for t in traces:
        out.print(f"{t.name}: {escape(t.call)}" + (f"  {escape(t.note)}" if t.note else ""))
    if source is not None and source.groups.differ and any(t.name in PLANNED for t in traces):
        out.print(
            "(lists: one LR per param group, in the ratios the sweep kept; the suggested LR is "
            "group 0's, before any lr_scale; the table and the plot show group 0's)"
        )
    if folder is not None:
        from lrfind.tools.figures import save_figure, schedule_figure

        origin = f"{Path(from_report).name}'s LR" if from_report else None
        reference, origin = reference_lr(traces, base, source, origin)
        figure = schedule_figure(traces, reference, log_y=log_y, overlay=overlay, origin=origin)
        path = folder / PNG_NAME
        try:
            wrote(err, save_figure(figure, path))
        except OSError as e:
            fail(err, UsageError(cannot_write(path, e)), debug)


def _schedule_lr(lr: float | None, from_report: str | None) -> tuple[float, ReportPlan | None]:
    """The LR for every scheduler, and the report's plan for those `lrfind run` plans."""
    if (lr is None) == (from_report is None):
        raise UsageError("give the LR with --lr X or --from-report report.json (one of them)")
    if from_report is None:
        return lr, None  # type: ignore[return-value]
    from lrfind.output.reader import read_report
    from lrfind.tools.report_plan import report_plan

    report = read_report(from_report)
    if report["suggested_lr"] is None:
        raise UsageError(
            f"{from_report}: the sweep suggested no LR (stop: {report['stop_reason']}); "
            "give --lr instead"
        )
    # 3 significant digits, as `lrfind run` prints it: the suggestion is not that precise.
    return float(f"{report['suggested_lr']:.3g}"), report_plan(report, from_report)


def _ints(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(p) for p in text.split(","))
    except ValueError:
        raise UsageError(f"--milestones {text!r}: give step numbers like 50,75") from None


def _plateau_trace(path: str) -> tuple[float, ...]:
    from lrfind.tools.losses import load_losses

    log = load_losses(path)
    if log.val is not None and all(v == v for v in log.val):  # no NaN: a full val trace
        return tuple(log.val)
    return tuple(log.train)


def reference_lr(
    traces: list[Trace], base: float, source: ReportPlan | None, origin: str | None
) -> tuple[float, str | None]:
    """The plot's dotted line and its title: where the traces peak.

    Planned traces are group 0's LR, which a timm lr_scale (group 0's ratio) moves
    off the headline LR; the line is drawn there, and the title says so.
    """
    from lrfind.tools.schedule import PLANNED

    if source is None or not all(t.name in PLANNED for t in traces):
        return base, origin
    scale = source.groups.ratios[0]
    if scale == 1.0:
        return base, origin
    return base * scale, f"{origin or '--lr'} {base:.3g} x group 0's lr_scale {scale:.3g} ="

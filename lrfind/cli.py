"""The `lrfind` command: parse, call lrfind.run.execute, render.

Only typer, rich and lrfind's light modules are imported at start-up; torch,
numpy and matplotlib load inside the command, so --help and usage errors are
instant.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from lrfind import __version__
from lrfind.cli_tools import register as register_tools
from lrfind.config import AMP_MODES, METHOD_NAMES, OPTIMIZERS, Mode
from lrfind.errors import ConfigError, LrfindError, SweepError
from lrfind.resolve import resolve

if TYPE_CHECKING:
    from lrfind.run import RunOutcome

Method = Enum("Method", {name: name for name in METHOD_NAMES}, type=str)  # type: ignore[misc]
Amp = Enum("Amp", {name: name for name in AMP_MODES if name}, type=str)  # type: ignore[misc]

EXAMPLES = """
Examples:

  lrfind run sample_models/digits_mlp.py:build

  lrfind run my_project.model:build --device cuda --arg batch_size=128

  lrfind run --config configs/digits_mlp.toml --end-lr 1

  lrfind run model.py:build --json > lr.json

  torchrun --nproc_per_node=4 -m lrfind run model.py:build --device cuda

  lrfind schedule onecycle cosine warmup_cosine --lr 0.1 --steps 1000

  lrfind compare base/report.json new/report.json --tolerance 0.3

  lrfind show lrfind-out/report.json

  lrfind diagnose losses.csv

  lrfind run sample_models/digits_mlp.py:build --repeats 3
"""

# click's exception base, found through typer so that this works with typer's
# vendored click and with the standalone click that older typer versions use.
# This process's rank when torchrun started it (its other ranks print nothing).
_RANK = os.environ.get("RANK", "0")

_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class _Group(TyperGroup):
    """Usage errors in two lines ("Error: ...", where to get help), not click's usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `lrfind`: the help, as click does
                sys.stderr.write(e.format_message() + "\n")  # type: ignore[attr-defined]
                sys.exit(2)
            ctx = getattr(e, "ctx", None)
            where = ctx.command_path if ctx is not None else "lrfind"
            message = e.format_message()  # type: ignore[attr-defined]
            sys.stderr.write(f"Error: {message}\nRun '{where} --help' for the options.\n")
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        except typer.Abort:
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="lrfind",
    help="Find a good learning rate for a PyTorch model with an LR range test.",
    epilog=EXAMPLES,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lrfind {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Find a good learning rate for a PyTorch model with an LR range test."""


@app.command(epilog=EXAMPLES)
def run(
    spec: Annotated[
        str | None,
        typer.Argument(
            help="path/to/file.py:build or package.module:build (or spec in --config).",
            show_default=False,
            metavar="SPEC",
        ),
    ] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="TOML config file.")] = None,
    device: Annotated[
        str | None, typer.Option(help="auto, cpu, cuda, cuda:N or mps. [default: auto]")
    ] = None,
    start_lr: Annotated[
        float | None, typer.Option(help="First LR of the sweep. [default: 1e-7]")
    ] = None,
    end_lr: Annotated[
        float | None, typer.Option(help="Last LR of the sweep. [default: 10]")
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="Optimizer steps in the sweep. [default: 100]")
    ] = None,
    mode: Annotated[Mode | None, typer.Option(help="How the LR grows. [default: exp]")] = None,
    smoothing: Annotated[
        float | None,
        typer.Option(help="EMA weight of the newest loss, 0 = off (measured best). [default: 0]"),
    ] = None,
    diverge_threshold: Annotated[
        float | None, typer.Option(help="Stop when smoothed loss > this x its best. [default: 4]")
    ] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(
            help=f"torch.optim name: {', '.join(OPTIMIZERS)}. [default: build's, else sgd]"
        ),
    ] = None,
    method: Annotated[
        Method | None, typer.Option(help="Headline suggestion method. [default: min_div_10]")
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            "-a",
            metavar="KEY=VALUE",
            help="Keyword argument for build(); repeatable. Values: TOML literals, else strings.",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for build and sweep. [default: 0]")] = None,
    repeats: Annotated[
        int | None,
        typer.Option(help="Sweeps with seeds seed, seed+1, ...; suggests the median. [default: 1]"),
    ] = None,
    val_batches: Annotated[
        int | None,
        typer.Option(help="Loss on K fixed val_loader batches after each step. [default: all]"),
    ] = None,
    amp: Annotated[
        Amp | None, typer.Option(help="Mixed precision (fp16 adds a GradScaler). [default: off]")
    ] = None,
    accumulate: Annotated[
        int | None, typer.Option(help="Micro-batches per optimizer step. [default: 1]")
    ] = None,
    compile_: Annotated[
        bool, typer.Option("--compile", help="torch.compile the copy; compile time not timed.")
    ] = False,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="channels-last memory format (conv nets).")
    ] = False,
    out_dir: Annotated[
        str | None,
        typer.Option(help="Folder for report.json and lr_finder.png. [default: lrfind-out]"),
    ] = None,
    no_plot: Annotated[
        bool, typer.Option("--no-plot", help="Skip the plot (and matplotlib).")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print only the report JSON on stdout.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the suggested LR.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    distributed: Annotated[
        bool | None,
        typer.Option(
            "--distributed/--no-distributed",
            help="Run as one rank of a torchrun job (DDP). [default: when torchrun started it]",
            show_default=False,
        ),
    ] = None,
    dist_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds a rank waits for the others before failing. [default: 600]"),
    ] = None,
) -> None:
    """Run an LR range test on the model that SPEC's build() returns and suggest an LR."""
    started = time.perf_counter()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    cli = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "steps": steps,
        "mode": mode.value if mode else None,
        "smoothing": smoothing,
        "diverge_threshold": diverge_threshold,
        "seed": seed,
        "device": device,
        "method": method.value if method else None,
        "optimizer": optimizer,
        "amp": amp.value if amp else None,
        "accumulate": accumulate,
        "compile": True if compile_ else None,
        "channels_last": True if channels_last else None,
        "repeats": repeats,
        "val_batches": val_batches,
        "out_dir": out_dir,
        "plot": False if no_plot else None,
        "distributed": distributed,
        "dist_timeout": dist_timeout,
    }
    try:
        cfg = resolve(spec, cli, arg, config)
        from lrfind.run import execute

        speaks = _RANK == "0"  # under torchrun, rank 0 prints for every rank
        with _progress(err, enabled=not quiet and err.is_terminal and speaks) as progress:
            outcome = execute(cfg, progress, started)
    except LrfindError as e:
        _fail(err, e, debug)
    except KeyboardInterrupt:
        err.print("Interrupted before the sweep started: nothing was written.")
        raise typer.Exit(130) from None
    _render(outcome, err, json_out=json_out, quiet=quiet)


def _render(outcome: RunOutcome, err: Console, *, json_out: bool, quiet: bool) -> NoReturn:
    result = outcome.result
    s = result.suggestion
    code = 130 if result.stop_reason == "interrupted" else 0 if s.lr is not None else 1
    if outcome.rank != 0:  # another rank of a torchrun job: rank 0 prints (the same result)
        raise typer.Exit(code)
    if json_out:
        sys.stdout.write(json.dumps(outcome.report, indent=2, allow_nan=False) + "\n")
    elif quiet:
        if s.lr is not None:
            typer.echo(f"{s.lr:.6g}")
    else:
        from lrfind.table import result_table, suggestion_line, uncertainty_line

        out = Console(highlight=False)
        out.print(result_table(result))
        if s.lr is not None:
            for warning in result.warnings:
                err.print(f"[yellow]Warning:[/] {escape(warning)}")
            files = [str(p) for p in (outcome.report_path, outcome.plot_path) if p is not None]
            err.print(f"[dim]Wrote {escape(', '.join(files))}[/]")
            if outcome.distributed is not None:
                err.print(f"[dim]{escape(_job(outcome.distributed))}[/]")
            from lrfind.plan_view import terminal_lines

            # Schedules and stability first: the suggestion stays the last line.
            for line in terminal_lines(result):
                out.print(line, markup=False, soft_wrap=True)
            out.print(escape(uncertainty_line(result)), soft_wrap=True)
            out.print(suggestion_line(result))
    if s.lr is None:
        # Two lines: why, then what happened and where the evidence is.
        err.print(
            f"Error: no learning rate can be suggested: {s.reason} ({s.method})", markup=False
        )
        why = next(iter(result.warnings), f"stopped: {result.stop_reason}")
        err.print(f"({why}; the report is in {outcome.report_path})", markup=False)
    raise typer.Exit(code)


def _job(job: dict[str, Any]) -> str:
    """One line on a torchrun job: ranks, backend, batch sizes."""
    line = f"{job['world_size']} ranks ({job['backend']})"
    if job["effective_batch_size"] is not None and job["sharded"]:
        line += (
            f"; effective batch {job['effective_batch_size']} = {job['per_rank_batch_size']} "
            f"per rank x {job['world_size']} ranks x {job['accumulate']} accumulated"
        )
    elif not job["sharded"]:
        line += "; every rank sees the same batches"
    return line


def _fail(err: Console, e: LrfindError, debug: bool) -> NoReturn:
    if getattr(e, "quiet", _RANK != "0"):  # under torchrun, one rank shows each failure
        raise typer.Exit(e.exit_code)
    if debug:
        err.print("".join(traceback.format_exception(e)), markup=False)
    problems = e.problems if isinstance(e, ConfigError) else [str(e)]
    if len(problems) == 1:
        err.print(f"Error: {problems[0]}", markup=False)
    else:
        err.print(f"Error: {len(problems)} problems in the settings:", markup=False)
        for p in problems:
            err.print(f"  - {p}", markup=False)
    notes = []
    outcome = getattr(e, "outcome", None)
    if outcome is not None:
        notes.append(f"the partial report is in {outcome.report_path}")
    if not debug and isinstance(e, SweepError) and e.__cause__ is not None:
        notes.append("--debug shows the traceback")
    if notes:
        err.print(f"({'; '.join(notes)})", markup=False)
    raise typer.Exit(e.exit_code)


class _progress:
    """A rich progress bar on stderr, as a `progress(step, total)` callback."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console, self.enabled = console, enabled
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> Any:
        if not self.enabled:
            return None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.bar = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            # Its thread redraws the bar; 4 times a second takes less from the sweep than 10.
            refresh_per_second=4,
        )
        self.bar.start()
        self.task = self.bar.add_task("loading", total=None)
        return self.update

    def update(self, step: int, total: int) -> None:
        if step == 1:
            self.bar.update(self.task, description="sweeping", total=total)
        self.bar.update(self.task, completed=step)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


register_tools(app)  # schedule, compare, show, diagnose (lrfind/cli_tools.py)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()

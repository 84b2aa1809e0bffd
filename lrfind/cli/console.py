"""What every command shares on the terminal: the consoles, the one error renderer, progress.

stdout carries results only; errors, warnings and progress go to stderr.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from lrfind.cli.streams import Results
from lrfind.config.torchrun import torchrun_env
from lrfind.errors import LrfindError, SweepError

# The options every command spells the same way.
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
NoPlot = Annotated[bool, typer.Option("--no-plot", help="Skip the PNG (and matplotlib).")]


def out_dir_option(default: str, what: str) -> Any:
    """`--out-dir`: the folder a command writes into (one name for it in every command)."""
    return typer.Option(
        "--out-dir",
        help=f"Folder for {what}. [default: {default}]",
        show_default=False,
        callback=_named_folder,
    )


def _named_folder(value: str | None) -> str | None:
    # An empty name (`--out-dir "$UNSET_VAR"`) would silently mean the default folder.
    if value is not None and not value.strip():
        raise typer.BadParameter("the folder name is empty: name a folder, or leave --out-dir out")
    return value


def stderr() -> Console:
    """Progress, warnings and errors, on the stderr of the moment the command starts: the
    user's code may set sys.stderr to something else (os.devnull) later."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def stdout(results: Results | None = None) -> Console:
    """Results (to `results`, else stdout as it is now); 120 columns when not a terminal.

    In CI logs and pipes rich would assume 80 columns. Every write goes through
    Results: ASCII where the stream takes no more, and failures in lrfind's words.
    """
    file = results or Results(sys.stdout)
    console = Console(file=file, highlight=False, soft_wrap=True)  # type: ignore[arg-type]
    if console.is_terminal:
        return console
    return Console(file=file, highlight=False, soft_wrap=True, width=120)  # type: ignore[arg-type]


def fail(err: Console, e: LrfindError, debug: bool = False) -> NoReturn:
    """Print an LrfindError as `Error: ...` (every problem of a config, one per line), then exit.

    The traceback only with --debug; a note where the partial report is; under
    torchrun, nothing on the ranks whose failure another process has shown.
    """
    if e.shown or not torchrun_env().speaks:
        raise typer.Exit(e.exit_code)
    if debug:
        err.print("".join(traceback.format_exception(e)), markup=False)
    problems = e.problems
    if len(problems) == 1:
        err.print(f"Error: {problems[0]}", markup=False)
    else:
        err.print(f"Error: {len(problems)} problems in the settings:", markup=False)
        for p in problems:
            err.print(f"  - {p}", markup=False)
    notes = []
    if e.report_path is not None:
        notes.append(f"the partial report is in {e.report_path}")
    elif e.report_lost is not None:  # a full disk: the curve is lost, and the user must know
        notes.append(f"no partial report: {e.report_lost}")
    if not debug and isinstance(e, SweepError) and e.__cause__ is not None:
        notes.append("--debug shows the traceback")
    if notes:
        err.print(f"({'; '.join(notes)})", markup=False)
    raise typer.Exit(e.exit_code)


def wrote(err: Console, *paths: Path | None) -> None:
    """The dim "Wrote ..." line on stderr for the files a command wrote."""
    from rich.markup import escape

    files = [str(p) for p in paths if p is not None]
    if files:
        err.print(f"[dim]Wrote {escape(', '.join(files))}[/]")


class progress_bar:
    """A rich progress bar on stderr, as a `progress(step, total)` callback."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console, self.enabled = console, enabled
        self.bar: Any = None
        self.task: Any = None
        self.passes = 0  # the sweep (its repeats count as one pass), then --refine's probes

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
            what = "sweeping" if self.passes == 0 else f"--refine probe {self.passes}"
            self.passes += 1
            self.bar.update(self.task, description=what, total=total)
        self.bar.update(self.task, completed=step)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

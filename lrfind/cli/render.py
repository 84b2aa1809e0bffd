"""How `lrfind run` ends on the terminal: the results on stdout, the rest on stderr, the exit code.

Exit codes: 0 a suggestion; 1 none, or the outputs could not be written (the
suggestion is still printed); 128 + N after signal N (130 Ctrl-C, 143
SIGTERM, 129 SIGHUP), the partial report written.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from lrfind.cli.console import stdout, wrote
from lrfind.cli.streams import Results

if TYPE_CHECKING:  # annotations only: the pipeline's result types load numpy
    from lrfind.pipeline import RunOutcome
    from lrfind.sweep.signals import SignalGuard


def render(
    outcome: RunOutcome,
    err: Console,
    results: Results,
    guard: SignalGuard | None,
    *,
    json_out: bool,
    quiet: bool,
) -> NoReturn:
    """Print the outcome (--json: the report alone; -q: the LR alone) and exit with its code."""
    result = outcome.result
    s = result.suggestion
    signalled = guard is not None and guard.signum is not None
    code = 0 if s.lr is not None else 1
    if outcome.write_error is not None:
        code = 1
    if result.stop_reason == "interrupted" or signalled:
        code = guard.exit_code if guard is not None and signalled else 130
    if outcome.rank != 0:  # another rank of a torchrun job: rank 0 prints (the same result)
        raise typer.Exit(code)
    if outcome.write_error is None:
        results.note = f"the report is in {outcome.report_path}"
    shown = False  # whether the "Wrote ..." line is out already
    if json_out:
        print_report(results, outcome.report)
    elif quiet:
        if s.lr is not None:
            results.write(f"{s.lr:.6g}\n")
    else:
        from lrfind.output.terminal import (
            plan_lines,
            result_table,
            suggestion_line,
            training_lines,
            uncertainty_line,
        )

        out = stdout(results)
        out.print(result_table(result))
        # Without a suggestion, the first warning is the error's second line (below).
        for warning in result.warnings[0 if s.lr is not None else 1 :]:
            err.print(f"[yellow]Warning:[/] {escape(warning)}")
        for note in [] if result.training is None else result.training.notes:
            err.print(f"Note: {escape(note)}")
        if s.lr is not None and outcome.write_error is None:
            wrote(err, outcome.report_path, outcome.plot_path)
            shown = True
        if s.lr is not None and outcome.distributed is not None:
            err.print(f"[dim]{escape(_job(outcome.distributed))}[/]")
        # What was swept (also when nothing can be suggested: then it is what to check),
        # schedules and stability: the suggestion stays the last line.
        for line in [*training_lines(result), *(plan_lines(result) if s.lr is not None else [])]:
            out.print(line, markup=False, soft_wrap=True)
        if s.lr is not None:
            out.print(escape(uncertainty_line(result)), soft_wrap=True)
            out.print(suggestion_line(result))
    if outcome.plot_warning is not None:
        err.print(f"[yellow]Warning:[/] {escape(outcome.plot_warning)}")
    interrupted = signalled or result.stop_reason == "interrupted"
    if outcome.write_error is not None:
        # The result stands (it is printed above); the run fails: its outputs are not on disk.
        err.print(f"Error: {outcome.write_error}", markup=False)
    elif s.lr is None and not interrupted:
        # Two lines: why, then what happened and where the evidence is.
        err.print(
            f"Error: no learning rate can be suggested: {s.reason} ({s.method})", markup=False
        )
        why = next(iter(result.warnings), f"stopped: {result.stop_reason}")
        err.print(f"({why}; the report is in {outcome.report_path})", markup=False)
    if interrupted:  # one true line: which signal, when, and what is on disk
        # No signal came, yet the sweep was interrupted: a KeyboardInterrupt raised in code.
        name = guard.name if guard is not None and guard.name else "a KeyboardInterrupt"
        when = "once the sweep was over"
        done = None if result.repeats is None else len(result.repeats.runs)
        if result.refinement is not None and result.refinement.interrupted:
            when = "during --refine's probes"
        elif result.stop_reason == "interrupted":
            when = f"after {result.steps_run} of {result.config.steps} steps"
        elif done is not None and done < result.config.repeats:  # the finished ones are kept
            when = f"in repeat {done + 1} of {result.config.repeats}"
        parts = [f"Interrupted by {name} {when}"]
        if s.lr is None:
            parts.append(f"no suggestion ({s.reason})")
        if outcome.write_error is None and not shown:
            files = [p for p in (outcome.report_path, outcome.plot_path) if p is not None]
            parts.append(f"wrote {', '.join(map(str, files))}")
        err.print("; ".join(parts), markup=False)
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


def print_report(results: Results, report: dict[str, Any]) -> None:
    """--json: the report alone on stdout (after a failed sweep too: CI keeps it as lr.json)."""
    results.write(json.dumps(report, indent=2, allow_nan=False) + "\n")

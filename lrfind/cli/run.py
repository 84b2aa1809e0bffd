"""`lrfind run`: parse the options, call lrfind.pipeline.execute, render the outcome.

Only typer, rich and lrfind's light modules are imported at start-up; torch,
numpy and matplotlib load inside the command, so --help and usage errors are
instant.
"""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from lrfind.cli.console import Debug, fail, out_dir_option, progress_bar, stderr, wrote
from lrfind.config import AMP_MODES, DEFAULT_OUT_DIR, METHOD_NAMES, OPTIMIZERS, Mode, resolve
from lrfind.config.settings import CLIP_MODES
from lrfind.config.torchrun import torchrun_env
from lrfind.errors import LrfindError

if TYPE_CHECKING:  # annotation only: the pipeline's result types load numpy
    from lrfind.pipeline import RunOutcome

Method = Enum("Method", {name: name for name in METHOD_NAMES}, type=str)  # type: ignore[misc]
Amp = Enum("Amp", {name: name for name in AMP_MODES if name}, type=str)  # type: ignore[misc]
ClipMode = Enum("ClipMode", {name: name for name in CLIP_MODES}, type=str)  # type: ignore[misc]

EXAMPLES = """
Examples:

  lrfind run sample_models/digits_mlp.py:build

  lrfind run my_project.model:build --device cuda --arg batch_size=128

  lrfind run --config configs/digits_mlp.toml --end-lr 1

  lrfind run model.py:build --json > lr.json

  lrfind run sample_models/digits_mlp.py:build --repeats 3

  torchrun --nproc_per_node=4 -m lrfind run model.py:build --device cuda
"""


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
    clip_grad: Annotated[
        float | None,
        typer.Option(
            metavar="NORM",
            help="Clip the gradients' norm at NORM before each step, 0 = off. "
            "[default: build's (a Trainer's max_grad_norm), else off]",
        ),
    ] = None,
    clip_mode: Annotated[
        ClipMode | None,
        typer.Option(
            help="What --clip-grad bounds: the total norm, or each value. [default: norm]"
        ),
    ] = None,
    compile_: Annotated[
        bool, typer.Option("--compile", help="torch.compile the copy; compile time not timed.")
    ] = False,
    channels_last: Annotated[
        bool, typer.Option("--channels-last", help="channels-last memory format (conv nets).")
    ] = False,
    out_dir: Annotated[
        str | None, out_dir_option(DEFAULT_OUT_DIR, "report.json and lr_finder.png")
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
    debug: Debug = False,
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
    err = stderr()
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
        "clip_grad": clip_grad,
        "clip_mode": clip_mode.value if clip_mode else None,
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
        cfg = resolve(spec, cli, arg, config, torchrun_env())
        from lrfind.pipeline import execute

        bar = not quiet and err.is_terminal and cfg.torchrun.speaks  # rank 0 speaks for all
        with progress_bar(err, enabled=bar) as progress:
            outcome = execute(cfg, progress, started)
    except LrfindError as e:
        fail(err, e, debug)
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
        from lrfind.output.terminal import (
            plan_lines,
            result_table,
            suggestion_line,
            training_lines,
            uncertainty_line,
        )

        out = Console(highlight=False)
        out.print(result_table(result))
        if s.lr is not None:
            for warning in result.warnings:
                err.print(f"[yellow]Warning:[/] {escape(warning)}")
            for note in [] if result.training is None else result.training.notes:
                err.print(f"Note: {escape(note)}")
            wrote(err, outcome.report_path, outcome.plot_path)
            if outcome.distributed is not None:
                err.print(f"[dim]{escape(_job(outcome.distributed))}[/]")
            # What was swept, schedules and stability first: the suggestion stays the last line.
            for line in [*training_lines(result), *plan_lines(result)]:
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

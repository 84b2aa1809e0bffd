"""`lrfind run`: parse the options, call lrfind.pipeline.execute, render the outcome.

Only typer, rich and lrfind's light modules are imported at start-up; torch,
numpy and matplotlib load inside the command, so --help and usage errors are
instant.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from enum import Enum
from typing import Annotated

import typer

from lrfind.cli.console import Debug, fail, out_dir_option, progress_bar, stderr
from lrfind.cli.render import print_report, render
from lrfind.cli.streams import take_stdout
from lrfind.config import AMP_MODES, DEFAULT_OUT_DIR, METHOD_NAMES, OPTIMIZERS, Mode, resolve
from lrfind.config.settings import CLIP_MODES
from lrfind.config.torchrun import torchrun_env
from lrfind.errors import LrfindError, UsageError
from lrfind.sweep.signals import SignalGuard

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
        float | None,
        typer.Option(help="Use lrfind 0.1's stop: smoothed loss > this x its best. [default: off]"),
    ] = None,
    stop_k: Annotated[
        float | None,
        typer.Option(help="Robust stop: median this many noise scales up. [default: 12]"),
    ] = None,
    stop_fraction: Annotated[
        float | None,
        typer.Option(help="... and this share of the way back to the start. [default: 1]"),
    ] = None,
    divisor: Annotated[
        float | None,
        typer.Option(help="robust: the LR of the basin's left edge / this. [default: 5]"),
    ] = None,
    optimizer: Annotated[
        str | None,
        typer.Option(
            help=(
                f"torch.optim name: {', '.join(OPTIMIZERS)} (sgd has momentum 0.9 unless the "
                "config's [optimizer] sets it). [default: build's, else sgd]"
            )
        ),
    ] = None,
    method: Annotated[
        Method | None, typer.Option(help="Headline suggestion method. [default: robust]")
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
    refine: Annotated[
        bool,
        typer.Option(
            "--refine",
            help="Then move the suggestion by 3 or 4 short probes at constant LRs, judged on "
            "the training and validation loss (needs a val_loader).",
        ),
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
    if json_out and quiet:  # each replaces the other's output: one of them would be dropped
        fail(
            err,
            UsageError("--json and --quiet: choose one (--json prints the report, -q the LR)"),
            debug,
        )
    cli = {
        "start_lr": start_lr,
        "end_lr": end_lr,
        "steps": steps,
        "mode": mode.value if mode else None,
        "smoothing": smoothing,
        "diverge_threshold": diverge_threshold,
        "stop_k": stop_k,
        "stop_fraction": stop_fraction,
        "divisor": divisor,
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
        "refine": True if refine else None,
        "repeats": repeats,
        "val_batches": val_batches,
        "out_dir": out_dir,
        "plot": False if no_plot else None,
        "distributed": distributed,
        "dist_timeout": dist_timeout,
    }
    if not debug:  # the user's threads, __del__ and atexit hooks: one line, as ours
        from lrfind.cli.hooks import one_line_tracebacks

        one_line_tracebacks(err)
    from lrfind.cli.hooks import no_hard_exit

    with no_hard_exit(), take_stdout() as results:  # stdout carries results only
        try:
            cfg = dataclasses.replace(resolve(spec, cli, arg, config, torchrun_env()), debug=debug)
        except LrfindError as e:
            fail(err, e, debug)
        # Under torchrun, torchrun owns the signals: it passes Ctrl-C on, and its SIGTERM
        # after another rank failed must end this one at once.
        with nullcontext(None) if cfg.distributed else SignalGuard() as guard:
            try:
                from lrfind.pipeline import execute

                bar = not quiet and err.is_terminal and cfg.torchrun.speaks  # rank 0 speaks
                with progress_bar(err, enabled=bar) as progress:
                    outcome = execute(cfg, progress, started)
            except LrfindError as e:
                if json_out and e.report is not None:
                    print_report(results, e.report)
                fail(err, e, debug)
            except KeyboardInterrupt:
                signal = f" by {guard.name}" if guard is not None and guard.name else ""
                err.print(f"Interrupted{signal} before the sweep started: nothing was written.")
                raise typer.Exit(130 if guard is None else guard.exit_code) from None
            render(outcome, err, results, guard, json_out=json_out, quiet=quiet)

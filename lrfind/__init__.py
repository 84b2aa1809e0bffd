"""lrfind: a learning-rate range finder for PyTorch.

    >>> from lrfind import find_lr
    >>> result = find_lr(model, loader, torch.nn.CrossEntropyLoss())  # doctest: +SKIP
    >>> result.suggested_lr  # doctest: +SKIP

The heavy parts (torch, numpy, matplotlib) load on first use, so importing
lrfind, and `lrfind --help`, stay instant.

The tree (torch only under sweep/ and distributed/, and inside
tools/schedule.simulate; core/ imports no torch, matplotlib or rich):

    errors.py      LrfindError and its subclasses (their partial history: core/history.py),
                   user_code (the one error path for the user's code)
    spec.py        SPEC -> the user's build(), imported and called (no torch)
    script.py      the user's file run as its own script would be: sys.argv, argparse
    pipeline.py    `lrfind run` without the terminal: checks, build, sweep, write
    config/        settings: SweepConfig and its checks, TOML and --arg, precedence, torchrun env,
                   paths (~ and the cwd, resolved once)
    core/          what a range test computes: curve, history, robust and robust_suggest
                   (the default rule: its stop, its curve, its answer), stopping, suggest,
                   uncertainty, plan and snippets, priors, repeats, result, caveats, training
    sweep/         the range test on a copy of the model: range_test, loop, recorder, step,
                   batch, optim, task, device, guards, signals (no torch), hints, mistakes,
                   evaluate; adapters/ (a transformers Trainer, a LightningModule, model
                   outputs, taken as they are)
    distributed/   the same sweep as one rank of a torchrun job: cluster, shard, faults
    output/        report.json (report, reader, schema, files), lr_finder.png (plot, mpl),
                   terminal, inputs (every file a command reads), paths (every output)
    tools/         after the sweep: compare, diagnose, losses, schedule(rs), report_plan,
                   tables, figures
    cli/           Typer: app (the last resort), console (the one error renderer), streams
                   (stdout for results only), run, render, schedule, tools

Imports point one way: cli -> {pipeline, tools, output, sweep.signals (torch-free)};
pipeline -> {spec, sweep, distributed, output}; distributed -> sweep; sweep ->
spec (mistakes); tools -> output; all of them -> core -> config -> errors;
errors -> core.history, a leaf record that imports nothing, so that a failed
sweep's error carries what it recorded.

The data flow of `lrfind run SPEC`:

    cli/run.run            stdout taken for results; options -> config.resolve() -> RunConfig
                           (nothing imported yet); signals guarded (once, outside the loop)
    pipeline.execute       out dir checked, SPEC checked, device resolved once
      spec.load_function   the user's file imported; build(**kwargs) called, seeded
      sweep.task           what build returned -> Task
      sweep.range_test     sweep_task: seeded sweep(s) of a deep copy -> core.result.analyse
        sweep.loop         run_sweep: LR from core.curve, one Stepper step, Recorder.add
      output.report/plot   report.json and lr_finder.png, atomically
    cli/render.render      the table, the schedules, the confidence and the suggestion
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lrfind._version import __version__
from lrfind.config.settings import SweepConfig
from lrfind.errors import ConfigError, LrfindError, SpecError, SweepError, UsageError

# Public name -> module that defines it, imported on first access.
_LAZY = {
    "find_lr": "lrfind.sweep.range_test",
    "Task": "lrfind.sweep.task",
    "SweepResult": "lrfind.core.result",
    "History": "lrfind.core.history",
    "Suggestion": "lrfind.core.suggest",
    "METHODS": "lrfind.core.suggest",
    "write_report": "lrfind.output.report",
    "report_dict": "lrfind.output.report",
    "read_report": "lrfind.output.reader",
    "plot_result": "lrfind.output.plot",
    "save_plot": "lrfind.output.plot",
    "result_table": "lrfind.output.terminal",
}

__all__ = [
    "METHODS",
    "ConfigError",
    "History",
    "LrfindError",
    "SpecError",
    "Suggestion",
    "SweepConfig",
    "SweepError",
    "SweepResult",
    "Task",
    "UsageError",
    "__version__",
    "find_lr",
    "plot_result",
    "read_report",
    "report_dict",
    "result_table",
    "save_plot",
    "write_report",
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from lrfind.core.history import History
    from lrfind.core.result import SweepResult
    from lrfind.core.suggest import METHODS, Suggestion
    from lrfind.output.plot import plot_result, save_plot
    from lrfind.output.reader import read_report
    from lrfind.output.report import report_dict, write_report
    from lrfind.output.terminal import result_table
    from lrfind.sweep.range_test import find_lr
    from lrfind.sweep.task import Task


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrfind' has no attribute {name!r}")

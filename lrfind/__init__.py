"""lrfind: a learning-rate range finder for PyTorch.

    >>> from lrfind import find_lr
    >>> result = find_lr(model, loader, torch.nn.CrossEntropyLoss())  # doctest: +SKIP
    >>> result.suggested_lr  # doctest: +SKIP

The heavy parts (torch, numpy, matplotlib) load on first use, so importing
lrfind, and `lrfind --help`, stay instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lrfind.config import SweepConfig
from lrfind.errors import ConfigError, LrfindError, SpecError, SweepError, UsageError

__version__ = "0.1.0"

# Public name -> module that defines it, imported on first access.
_LAZY = {
    "find_lr": "lrfind.api",
    "Task": "lrfind.task",
    "SweepResult": "lrfind.result",
    "History": "lrfind.history",
    "Suggestion": "lrfind.suggest",
    "METHODS": "lrfind.suggest",
    "write_report": "lrfind.report",
    "report_dict": "lrfind.report",
    "read_report": "lrfind.report",
    "plot_result": "lrfind.plot",
    "save_plot": "lrfind.plot",
    "result_table": "lrfind.table",
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

if TYPE_CHECKING:
    from lrfind.api import find_lr
    from lrfind.history import History
    from lrfind.plot import plot_result, save_plot
    from lrfind.report import read_report, report_dict, write_report
    from lrfind.result import SweepResult
    from lrfind.suggest import METHODS, Suggestion
    from lrfind.table import result_table
    from lrfind.task import Task


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrfind' has no attribute {name!r}")

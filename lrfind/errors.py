"""The exceptions lrfind raises on purpose.

Every one carries a message that names the problem and the fix, and the exit
code the CLI maps it to. Anything else that escapes is a bug in lrfind and
keeps its traceback. This module is the bottom of the package: it imports
nothing from lrfind but the plain History record that a failed sweep keeps.
"""

from __future__ import annotations

import sysconfig
import traceback
from pathlib import Path

from lrfind.core.history import History


class LrfindError(Exception):
    """Base class: a problem lrfind can explain in one or two lines.

    Attributes:
        exit_code: what the CLI exits with (1 here; 2 for bad input).
        history: what the sweep had recorded before it failed, so nothing is
            lost (None when it failed before its first step).
        report_path: where the partial report of the failed run was written.
        shown: another process has printed this message already (a torchrun
            rank whose failure rank 0 reported): the CLI prints nothing.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        history: History | None = None,
        report_path: Path | None = None,
        shown: bool = False,
    ) -> None:
        super().__init__(message)
        self.history = history
        self.report_path = report_path
        self.shown = shown

    @property
    def problems(self) -> list[str]:
        """The problems to list, one per line (one, except for a ConfigError)."""
        return [str(self)]


class UsageError(LrfindError):
    """Bad input from the user: options, SPEC, config. Exit code 2."""

    exit_code = 2


class SpecError(UsageError):
    """The SPEC cannot be loaded, or `build` returned something unusable."""


class ConfigError(UsageError):
    """A config file or option value is invalid; lists every problem at once."""

    def __init__(self, problems: str | list[str]) -> None:
        self._problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self._problems))

    @property
    def problems(self) -> list[str]:
        return list(self._problems)


class SweepError(LrfindError):
    """The sweep started but failed at run time (e.g. the model raised). Exit code 1."""


def describe_exception(e: BaseException) -> str:
    """One line: "Type: message (file.py, line N)", the line being the user's own code."""
    text = " ".join(str(e).split())
    line = f"{type(e).__name__}: {text}" if text else type(e).__name__
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if _is_user_file(frame.filename):
            return f"{line} ({Path(frame.filename).name}, line {frame.lineno})"
    return line


def _is_user_file(filename: str) -> bool:
    """Not lrfind, the standard library or an installed package."""
    if filename.startswith("<"):
        return False
    not_user = [str(Path(__file__).parent)]
    not_user += [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    return not any(filename.startswith(prefix) for prefix in not_user)

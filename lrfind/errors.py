"""The exceptions lrfind raises on purpose.

Every one carries a message that names the problem and the fix, and the exit
code the CLI maps it to. Anything else that escapes is a bug in lrfind and
keeps its traceback. This module is the bottom of the package: it imports
nothing from lrfind but the plain History record that a failed sweep keeps.
"""

from __future__ import annotations

import re
import sysconfig
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrfind.core.history import History


class LrfindError(Exception):
    """Base class: a problem lrfind can explain in one or two lines.

    Attributes:
        exit_code: what the CLI exits with (1 here; 2 for bad input).
        history: what the sweep had recorded before it failed, so nothing is
            lost (None when it failed before its first step).
        report_path: where the partial report of the failed run was written.
        report: that partial report (what `--json` prints), also when writing it failed.
        report_lost: why the partial report could not be written (a full disk), if so.
        finished: with --repeats, the result of the repeats that finished before this one
            failed (a SweepResult; None otherwise): the partial report is theirs.
        shown: another process has printed this message already (a torchrun
            rank whose failure rank 0 reported): the CLI prints nothing.
        setting: the setting at fault ("device", "spec", "build_kwargs", ...), so
            that one a config file set can be named by its file and line.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        history: History | None = None,
        report_path: Path | None = None,
        shown: bool = False,
        setting: str | None = None,
    ) -> None:
        super().__init__(message)
        self.history = history
        self.report_path = report_path
        self.report: dict[str, Any] | None = None
        self.report_lost: str | None = None
        self.finished: Any = None
        self.shown = shown
        self.setting = setting

    def set_by(self, origin: str) -> None:
        """Add where the faulty setting came from: "(set by lrfind.toml: [sweep] ...)"."""
        self.args = (f"{self} (set by {origin})",)

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

    def set_by(self, origin: str) -> None:
        self._problems[-1] += f" (set by {origin})"
        self.args = ("\n".join(self._problems),)


class HardExit(SystemExit):
    """os._exit(code) called by the user's code in lrfind's own process (see cli/hooks.py):
    handled as their sys.exit() is, instead of ending lrfind without a word or a report."""


class SweepError(LrfindError):
    """The sweep started but failed at run time (e.g. the model raised). Exit code 1."""


# A user's exception text longer than this is cut: an error stays a line or two
# (a 5,000-character message, a tensor printed in full); --debug shows it whole.
MAX_TEXT = 300


def exception_text(e: BaseException) -> str:
    """str(e), never raising: the user's exception may have a __str__ that fails."""
    try:
        return str(e)
    except BaseException as inner:  # any failure of their __str__
        return f"<its str() raised {type(inner).__name__}>"


# Control characters in the user's text (an ANSI escape that clears the screen) are shown
# as "?", never sent to the terminal; a lone surrogate would make report.json invalid UTF-8.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def shortened(text: str) -> str:
    """One line of at most MAX_TEXT characters (and the count of those left out)."""
    text = _CONTROL.sub("?", " ".join(text.split()))
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}... ({len(text) - MAX_TEXT:,} more characters; --debug shows all)"


def describe_exception(e: BaseException) -> str:
    """One line: "Type: message (file.py, line N)", the line being the user's own code.

    A DataLoader worker's error, which torch re-raises with the worker's whole
    traceback pasted into the message, is given as the worker's own one line.
    The message is cut to MAX_TEXT characters; one whose __str__ raises is named so.
    """
    raw = exception_text(e)
    worker = _WORKER.match(raw)
    if worker is not None:
        return _describe_worker(worker)
    if isinstance(e, HardExit):
        line = f"os._exit({e.code})"
    elif isinstance(e, SystemExit):
        line = f"SystemExit: sys.exit({shortened(_safe_repr(e.code))})"
    else:
        text = shortened(raw)
        line = f"{type(e).__name__}: {text}" if text else type(e).__name__
    return line + _where(e)


def _where(e: BaseException) -> str:
    """ " (file.py, line N)": the innermost frame of the user's own code; "" if none."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if _is_user_file(frame.filename):
            return f" ({Path(frame.filename).name}, line {frame.lineno})"
    return ""


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except BaseException as inner:  # any failure of their __repr__
        return f"<its repr() raised {type(inner).__name__}>"


def exit_text(e: SystemExit) -> str:
    """What a SystemExit means: "exited with code 3", or "exited: its message"."""
    code = e.code
    if isinstance(e, HardExit):
        return f"called os._exit({code})"
    if code is None or isinstance(code, int):
        return f"exited with code {code or 0}"
    try:
        text = str(code)
    except BaseException as inner:  # sys.exit(obj) whose __str__ fails
        text = f"<its str() raised {type(inner).__name__}>"
    return f"exited: {shortened(text)}"


def ended(e: BaseException) -> str:
    """How the user's code ended: "exited with code N (f.py, line 3)" or "raised ..."."""
    if isinstance(e, SystemExit):
        return exit_text(e) + _where(e)
    return f"raised {describe_exception(e)}"


@contextmanager
def about(setting: str) -> Iterator[None]:
    """Errors raised inside are about `setting`, unless they name another (see set_by)."""
    try:
        yield
    except LrfindError as e:
        e.setting = e.setting or setting
        raise


@contextmanager
def user_code(what: str, error: type[LrfindError] = SweepError) -> Iterator[None]:
    """Run a piece of the user's code: whatever ends it, bar Ctrl-C, is an `error`.

    `SystemExit` and any other BaseException (trio's Cancelled, gevent's
    GreenletExit) too: the user's code must not end lrfind, silently or with
    a traceback. The message is "{what} raised Type: text (file.py, line N)".
    """
    try:
        yield
    except (KeyboardInterrupt, LrfindError):
        raise
    except BaseException as e:
        raise error(f"{what} {ended(e)}") from e


# torch's ExceptionWrapper.reraise: "Caught ValueError in DataLoader worker process 0.\n
# Original Traceback (most recent call last):\n  File ..." (torch/_utils.py).
_WORKER = re.compile(r"Caught (\w+) in DataLoader worker process (\d+)\.\s*Original (.*)", re.S)
_FRAME = re.compile(r'^\s+File "(.+)", line (\d+)')


def _describe_worker(match: re.Match[str]) -> str:
    """ "DataLoader worker 0: ValueError: text (file.py, line N)" from the pasted traceback."""
    lines = match.group(3).splitlines()
    frames = [(i, _FRAME.match(line)) for i, line in enumerate(lines)]
    frames = [(i, m) for i, m in frames if m is not None]
    after = lines[frames[-1][0] + 1 :] if frames else lines[1:]
    # The frame's source line and carets are indented; the exception's own text is not.
    text = " ".join(" ".join(x.split()) for x in after if x.strip() and not x[:1].isspace())
    line = f"DataLoader worker {match.group(2)}: {shortened(text) or match.group(1)}"
    for _, m in reversed(frames):
        if _is_user_file(m.group(1)):
            return f"{line} ({Path(m.group(1)).name}, line {m.group(2)})"
    return line


def _is_user_file(filename: str) -> bool:
    """Not lrfind, the standard library or an installed package."""
    if filename.startswith("<"):
        return False
    not_user = [str(Path(__file__).parent)]
    not_user += [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    return not any(filename.startswith(prefix) for prefix in not_user)

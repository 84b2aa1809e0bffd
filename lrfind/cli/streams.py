"""stdout is lrfind's: the results go there, and nothing else.

`lrfind run ... --json > lr.json` must write a file that is JSON, whatever the
user's code prints: at import, in build(), in forward(), from DataLoader
workers (forked or spawned), child processes, C code writing to fd 1 or atexit
hooks. So `take_stdout` keeps a private copy of fd 1 for the results and
points fd 1 itself at stderr for the rest of the process (sys.stdout too):
everything the user's code writes, however it writes, lands on stderr.

`Results` writes to that copy: in ASCII where the stream cannot take more
(PYTHONIOENCODING=ascii on a CI runner), and turning a reader that has gone
or a full disk into lrfind's own exit, not a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

# The few non-ASCII characters lrfind's own output uses, and their ASCII stand-ins.
_ASCII = str.maketrans(
    {
        "\u25c0": "<",  # the table's markers
        "\u2014": "-",
        "\u2013": "-",
        "\u00d7": "x",
        "\u2026": "...",
        "\u00b1": "+-",
        "\u2248": "~",
        "\u2192": "->",
        "\u2264": "<=",
        "\u2265": ">=",
        "\u00b7": ".",
    }
)


class StdoutLost(Exception):
    """Writing the results to stdout failed (`error`); `note` says where they still are."""

    def __init__(self, error: OSError, note: str | None = None) -> None:
        super().__init__(str(error))
        self.error, self.note = error, note

    def message(self) -> str:
        """The line to print ("" for a reader that has gone: exit 1 without a word)."""
        if self.error.errno == errno.EPIPE:
            return ""  # `| head`: the reader has all it wanted, as click treats it
        where = f"; {self.note}" if self.note else ""
        return f"cannot write the results to stdout ({self.error.strerror or self.error}){where}"


class Results:
    """A text stream for results: the real stdout (or what stands for it in a test)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        #: Where the results are if stdout fails ("the report is in ..."), set by the command.
        self.note: str | None = None
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "\u25c0\u2014".encode(self.encoding)
            self._ascii = False
        except (LookupError, UnicodeEncodeError):
            self._ascii = True

    def write(self, text: str) -> int:
        if self._ascii:
            text = text.translate(_ASCII).encode(self.encoding, "replace").decode(self.encoding)
        try:
            n = self.stream.write(text)
            self.stream.flush()
        except OSError as e:
            self.disarm()
            raise StdoutLost(e, self.note) from None
        return n if isinstance(n, int) else len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.disarm()
            raise StdoutLost(e, self.note) from None

    def isatty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.stream.fileno()

    def disarm(self) -> None:
        """After a failed write: send what is left to /dev/null, so exiting cannot fail again."""
        try:
            fd = self.stream.fileno()
        except (AttributeError, OSError, ValueError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


class Unclosable:
    """A text stream the user's code cannot close (sys.stdout.close() in their build):
    lrfind's own lines still have to reach stderr after it. Everything else is the
    stream's own."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()

    @property
    def closed(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_OWN_PROCESS = False  # set by the console script: the process is lrfind's to rewire


def own_process() -> None:
    """Called by `lrfind` / `python -m lrfind`: fd 1 may be rewired for the whole process."""
    global _OWN_PROCESS
    _OWN_PROCESS = True


@contextmanager
def take_stdout() -> Iterator[Results]:
    """For the block (and, at the fd level, the rest of the process): results only on stdout.

    Yields the stream for the results. In the `lrfind` process itself, when
    sys.stdout is fd 1, fd 1 is duplicated for the results and then made a
    copy of stderr's, so workers, children and atexit hooks write to stderr
    too. Otherwise (typer's CliRunner, a program that calls the app) sys.stdout
    itself is the results stream and only sys.stdout is pointed at stderr.
    """
    original = sys.stdout
    stream: Any = original
    try:
        redirect = _OWN_PROCESS and original.fileno() == 1
    except (AttributeError, OSError, ValueError):
        redirect = False
    if redirect:
        original.flush()
        errors = getattr(original, "errors", None) or "strict"
        stream = os.fdopen(os.dup(1), "w", encoding=original.encoding, errors=errors)
        os.dup2(2, 1)
    before = sys.stderr
    sys.stderr = guarded = Unclosable(before)
    sys.stdout = guarded
    try:
        yield Results(stream)
    finally:
        if sys.stdout is guarded:
            sys.stdout = original  # fd 1 is stderr's now: it writes there too
        if sys.stderr is guarded:
            sys.stderr = before
        if redirect:  # our copy of fd 1: left open, it warns (ResourceWarning) at exit
            with contextlib.suppress(OSError):  # a closed pipe: the results went nowhere anyway
                stream.close()

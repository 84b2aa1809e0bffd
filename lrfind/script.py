"""Running the user's file as its own script would run: its sys.argv, argparse's exit.

`python file.py` gives the file sys.argv == [file.py]; under lrfind sys.argv
is lrfind's own command line, which a parser at module level would reject. So
while the SPEC's module is imported and build() runs, sys.argv is the file
alone; a parser that still exits (a required argument) is explained in one
line, its usage block held back.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def script_argv(argv0: str) -> Iterator[None]:
    """sys.argv as the user's file sees it when run as a script: its own path, no options."""
    saved = sys.argv
    sys.argv = [argv0]
    try:
        yield
    finally:
        sys.argv = saved


class HeldStderr:
    """sys.stderr while the user's module is imported: writes wait, everything else is stderr's.

    argparse at module level prints its usage block to sys.stderr and exits;
    lrfind replaces that block with its own one line. Every other write is
    passed on once the import ends; a handler that bound this object at import
    (logging.basicConfig) writes straight through from then on.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._held: list[str] | None = []

    def write(self, text: str) -> int:
        if self._held is None:
            return self._stream.write(text)
        self._held.append(text)
        return len(text)

    def flush(self) -> None:
        if self._held is None:
            self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding ...: the real stream's
        return getattr(self._stream, name)

    def release(self, drop: int = 0) -> None:
        held, self._held = self._held or [], None
        for text in held[: len(held) - drop]:
            self._stream.write(text)
        self._stream.flush()

    def argparse(self, e: BaseException) -> str:
        """For argparse's exit: its error in one line and the fix; its usage block dropped."""
        if not (isinstance(e, SystemExit) and _from_argparse(e)) or not self._held:
            return ""
        said = " ".join(self._held[-1].split()).partition("error: ")[2]
        self._held = self._held[:-2]  # argparse wrote its usage, then its error line
        return (
            f"; argparse: {said or 'bad arguments'}: lrfind runs the file with no arguments, "
            'so parse them under `if __name__ == "__main__":`'
        )


@contextmanager
def held_stderr() -> Iterator[HeldStderr]:
    held = HeldStderr(sys.stderr)
    sys.stderr = held  # type: ignore[assignment]
    try:
        yield held
    finally:
        if sys.stderr is held:
            sys.stderr = held._stream
        held.release()


def _from_argparse(e: BaseException) -> bool:
    """Whether the exception was raised inside the standard library's argparse."""
    return any(
        Path(f.filename).name == "argparse.py" for f in traceback.extract_tb(e.__traceback__)
    )

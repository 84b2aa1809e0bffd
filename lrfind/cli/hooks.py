"""What the user's code can do to the process that lrfind's error handling never sees.

`one_line_tracebacks`: errors Python prints by itself, in one line each (no traceback).
`no_hard_exit`: os._exit() in lrfind's own process is handled as sys.exit() is.

An exception in one of the user's threads, in a `__del__`, or in an atexit hook
never reaches lrfind's error handling: Python prints its traceback and goes on.
Without --debug, `one_line_tracebacks` has each printed as one line naming the
exception and the user's line, as lrfind's own errors are.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich.console import Console

from lrfind.errors import HardExit, describe_exception


def one_line_tracebacks(err: Console) -> None:
    """Install threading.excepthook and sys.unraisablehook for the rest of the process
    (atexit hooks run after the command has returned)."""

    def thread_hook(args: Any) -> None:
        if args.exc_type is SystemExit:  # a thread calling sys.exit() ends only itself
            return
        name = getattr(args.thread, "name", "a thread")
        _say(err, f"a thread of your code ({name}) raised {_described(args.exc_value)}")

    def unraisable_hook(u: Any) -> None:
        where = (u.err_msg or "Exception ignored in").removeprefix("Exception ignored in")
        where = where.strip(": ") or _short(u.object)
        _say(err, f"ignored (as Python does), in {where}: {_described(u.exc_value)}")

    threading.excepthook = thread_hook
    sys.unraisablehook = unraisable_hook


def _described(e: BaseException | None) -> str:
    return "an exception" if e is None else describe_exception(e)


def _short(obj: object) -> str:
    name = getattr(obj, "__qualname__", None)
    if isinstance(name, str):  # a function: D.__del__, not its repr with an address
        return name.replace("<locals>.", "") + "()"
    try:
        text = repr(obj)
    except Exception:  # the user's __repr__ may fail too
        text = f"a {type(obj).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def _say(err: Console, text: str) -> None:
    with contextlib.suppress(Exception):  # stderr gone at exit: nothing left to tell
        err.print(f"Warning: {text}; --debug shows the traceback", markup=False, highlight=False)


@contextmanager
def no_hard_exit() -> Iterator[None]:
    """os._exit(code) in this process raises HardExit (a SystemExit) for the block: the
    user's code ends as by sys.exit(), with lrfind's message and exit code, not silently
    with code 0 and no report. Forked children (DataLoader workers) and the user's other
    threads (a watchdog ending a hung run) keep the real one."""
    real, me = os._exit, os.getpid()

    def guarded(code: int) -> NoReturn:
        # A forked child ending itself (multiprocessing does), or a watchdog thread that
        # means to end a hung process: the real os._exit. The sweep runs on the main thread.
        if os.getpid() != me or threading.current_thread() is not threading.main_thread():
            real(code)
        raise HardExit(code)

    guarded.real = real  # type: ignore[attr-defined]  # lrfind's own hard exits use it
    os._exit = guarded
    try:
        yield
    finally:
        os._exit = real

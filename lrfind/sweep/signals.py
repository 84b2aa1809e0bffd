"""SIGINT, SIGTERM and SIGHUP during `lrfind run`: stop at a step, write whole files, say so.

One guard, installed once for the whole command (outside the sweep's loop,
which only polls a flag). What a signal does depends on where the run is:

- before the sweep (importing the SPEC, build()): it stops the run at once
  (KeyboardInterrupt), since nothing is recorded yet;
- sweeping: the first one asks the sweep to stop at the next step boundary,
  so the history is whole; a second one stops it at once (a step that hangs);
- after the sweep, while the results are analysed and written: signals are
  recorded, never raised, so report.json and the plot are always whole.

The exit code is then 128 + the first signal's number (130, 143, 129), as a
shell reports a process the signal ended. No torch here: the CLI installs the
guard before anything heavy loads. Signals can only be caught in the main
thread; elsewhere the guard installs nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from types import FrameType
from typing import Any, Literal

STOP_SIGNALS = tuple(
    s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)  # fmt: skip

Phase = Literal["before", "sweeping", "after"]
_active: SignalGuard | None = None


class SignalGuard:
    """The signal handlers of one `lrfind run` (a context manager around the command).

    Attributes:
        signum: the first signal received (None: none yet).
        phase: where the run is, which decides what a signal does (see the module).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.phase: Phase = "before"
        self._requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        global _active
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
            _active = self
        return self

    def __exit__(self, *exc: object) -> None:
        global _active
        for s, previous in self._previous.items():
            signal.signal(s, previous)
        self._previous.clear()
        if _active is self:
            _active = None

    @property
    def name(self) -> str:
        """The first signal's name, e.g. "SIGTERM" ("" when there was none)."""
        return "" if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """128 + the first signal's number, as a shell reports it."""
        return 128 + (self.signum or signal.SIGINT)

    def stop_requested(self) -> bool:
        """Whether a signal asked the sweep to stop (polled once per step)."""
        return self._requested

    @contextmanager
    def sweeping(self) -> Iterator[Callable[[], bool]]:
        """The sweep itself: a signal asks it to stop; then signals wait (see the module)."""
        self.phase = "sweeping"
        try:
            yield self.stop_requested
        finally:
            self.phase = "after"

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
        if self.phase == "after":
            self._requested = True  # a later repeat's sweep stops at once
            return
        if self.phase == "sweeping" and not self._requested:
            self._requested = True
            return
        raise KeyboardInterrupt


def active() -> SignalGuard | None:
    """The guard of the `lrfind run` in progress, if any (find_lr alone has none)."""
    return _active


def after_sweep() -> Any:
    """A block in which signals are recorded, not raised (writing the outputs)."""
    guard = _active
    if guard is None:
        return nullcontext()

    @contextmanager
    def held() -> Iterator[None]:
        phase, guard.phase = guard.phase, "after"
        try:
            yield
        finally:
            guard.phase = phase

    return held()

"""When one rank of a torchrun job fails: every rank stops, and one prints why.

A rank blocked inside a collective cannot be reached by an exception, only
from another thread. So a rank that fails writes its message to the
rendezvous store at once, and a watcher thread on every rank polls the store.
The protocol, with F the rank whose failure came first (a counter in the store
decides):

1. F publishes its failure (message and exit code).
2. Every other rank, on reading it (its watcher, or its own error that
   followed), adds 1 to "seen"; rank 0 prints the message and sets "shown".
3. F leaves first, once every peer has seen the failure and rank 0 has shown
   it, so that torchrun (which ends all ranks once one exits) names F as the
   root cause and the store outlives the readers; the others follow.

Every wait is bounded (_WAIT_S), and the collective timeout ends a rank that
hangs without raising.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist

from lrfind.errors import LrfindError, SweepError, describe_exception

_RELEASE_S = 5.0  # the longest wait for gloo to let go of the last collective's tensor
_POLL_S = 0.2  # how often the watcher reads the store: the delay before peers stop
_WAIT_S = 10.0  # the longest wait for the other ranks to read or show a failure
_LINGER_S = 1.0  # how long the other ranks outlive the failing one (torchrun ends them)
# Store keys: a counter of failures, the first one, how many ranks have seen it
# and whether rank 0 has shown it.
_FAILURES, _FAILURE = "lrfind/failures", "lrfind/failure"
_SEEN, _SHOWN = "lrfind/seen", "lrfind/shown"


class RankError(SweepError):
    """A failure on one rank, as every rank reports it (exit code: the failing rank's)."""

    def __init__(self, message: str, exit_code: int, shown: bool) -> None:
        # shown: another process printed the message already, so the CLI prints nothing.
        super().__init__(message, shown=shown)
        self.exit_code = exit_code


class Faults:
    """One rank's side of the protocol: the watcher thread and the failure path.

    `leave` is called on the way out after a failure, to leave the process
    group without waiting on peers.
    """

    def __init__(
        self, rank: int, world_size: int, timeout_s: float, leave: Callable[[], None]
    ) -> None:
        self.rank, self.world_size, self.timeout_s = rank, world_size, timeout_s
        self.debug = False  # --debug: a failing rank other than 0 prints its own traceback
        self.store: Any = None
        self._leave = leave
        self._stop = threading.Event()
        self._exiting = threading.Lock()  # taken by whoever reports the first failure
        self._watcher = threading.Thread(target=self._watch, name="lrfind-watcher", daemon=True)
        self._exit_code: int | None = None  # set once this rank has failed
        self._linger = False  # whether it waits for the failing rank to exit first

    def start(self) -> None:
        """Start watching the store (call once the process group exists)."""
        self.store = _default_store()
        # Registered before build() runs, so it runs after the atexit hooks of the user's code.
        atexit.register(self._exit_now)
        if self.store is not None:
            self._watcher.start()

    def stop(self) -> None:
        """Stop watching: the run is over on this rank."""
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()

    def interrupted(self) -> RankError:
        """What a rank raises on Ctrl-C (which torchrun passes to every rank)."""
        self._stop.set()
        self._exit_code = 130
        message = "interrupted: every rank stopped, and nothing was written"
        return RankError(message, 130, shown=self.rank != 0)

    def failed(self, error: BaseException) -> BaseException:
        """Publish this rank's failure, or take up the one that came first; what to raise."""
        self._stop.set()
        if not self._exiting.acquire(blocking=False):
            threading.Event().wait()  # the watcher is reporting a peer's failure and exits
        code = error.exit_code if isinstance(error, LrfindError) else 1
        text = str(error) if isinstance(error, LrfindError) else describe_exception(error)
        low = text.lower()
        timeout = "timed out" in low and any(name in low for name in ("gloo", "nccl", "c10d"))
        if timeout:
            text += (
                f"; no answer from the other ranks within --dist-timeout {self.timeout_s:g} s: "
                "one is stuck, or far slower (then raise --dist-timeout)"
            )
        if self.debug and self.rank != 0 and not self._peer_failed():  # before rank 0's line
            sys.stderr.write(f"rank {self.rank}, {''.join(traceback.format_exception(error))}")
            sys.stderr.flush()
        mine = {"rank": self.rank, "code": code}
        mine["message"] = f"rank {self.rank}: {text}" if self.world_size > 1 else text
        first = self._first_failure(mine)
        ours = first["rank"] == self.rank
        if ours:  # stay until every peer has read it: the store may leave with this process
            self._wait_for(lambda: self.store.add(_SEEN, 0) >= self.world_size - 1)
        if self.rank == 0 or self.store is None:  # rank 0 speaks: the CLI prints as this raises
            self._mark_shown()
            if ours:  # the peers poll for the mark; the store may go with this process
                time.sleep(_POLL_S)
            shown = False
        else:  # rank 0 prints it; this rank prints it only if rank 0 cannot
            shown = self._wait_for(lambda: self.store.check([_SHOWN]))
        self._leave()
        self._exit_code, self._linger = first["code"], not ours
        if ours and not isinstance(error, LrfindError) and not shown and not timeout:
            return error  # a bug in lrfind: keep its traceback
        out = RankError(first["message"], first["code"], shown=shown)
        if isinstance(error, LrfindError):  # the partial history and report, where there are
            out.history, out.report_path = error.history, error.report_path
            out.report = error.report
        return out

    def _peer_failed(self) -> bool:
        with contextlib.suppress(Exception):
            return self.store is not None and bool(self.store.check([_FAILURE]))
        return False

    def _first_failure(self, mine: dict[str, Any]) -> dict[str, Any]:
        """Record `mine` if it is the job's first failure; return the first one."""
        if self.store is None:
            return mine
        try:
            if self.store.add(_FAILURES, 1) == 1:
                self.store.set(_FAILURE, json.dumps(mine))
                return mine
            self._wait_for(lambda: self.store.check([_FAILURE]))
            first = json.loads(self.store.get(_FAILURE))
            self.store.add(_SEEN, 1)
            return first
        except Exception:  # the store is gone with the process that held it
            return mine

    def _watch(self) -> None:
        """Poll the store; on another rank's failure, report it (rank 0) and exit."""
        while not self._stop.wait(_POLL_S):
            try:
                if not self.store.check([_FAILURE]):
                    continue
                failure = json.loads(self.store.get(_FAILURE))
            except Exception:  # the store closed: the rank or launcher that held it is gone
                failure = {"rank": -1, "code": 1, "message": "lost contact with the other ranks"}
            if failure["rank"] == self.rank or not self._exiting.acquire(blocking=False):
                continue  # ours: the main thread reports it
            # The main thread may be blocked in a collective for up to --dist-timeout,
            # and no exception can reach it there: this thread ends the process.
            with contextlib.suppress(Exception):
                self.store.add(_SEEN, 1)
            if self.rank == 0:
                sys.stderr.write(f"Error: {failure['message']}\n")
                sys.stderr.flush()
                self._mark_shown()
            else:
                self._wait_for(lambda: self.store.check([_SHOWN]))
            # The failing rank leaves first, so that torchrun (which ends every
            # rank once one exits) names it as the root cause.
            time.sleep(_LINGER_S)
            _hard_exit(failure["code"])

    def _wait_for(self, ready: Callable[[], bool]) -> bool:
        """Poll `ready()` for up to _WAIT_S; False if it never was (or the store is gone)."""
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline:
            try:
                if ready():
                    return True
            except Exception:
                return False
            time.sleep(0.05)
        return False

    def _mark_shown(self) -> None:
        try:
            if self.store is not None:
                self.store.set(_SHOWN, "1")
        except Exception:  # nobody is left to wait for it
            pass

    def _exit_now(self) -> None:
        """After a failure, end the process once Python's own exit hooks have run.

        Tearing down the collectives' C++ state can wait on a peer that is
        still blocked in one; torchrun would then end this rank first, and
        name the wrong rank as the root cause.
        """
        if self._exit_code is not None:
            sys.stdout.flush()
            sys.stderr.flush()
            if self._linger:  # the failing rank leaves first (see _watch)
                time.sleep(_LINGER_S)
            _hard_exit(self._exit_code)


def _default_store() -> Any:
    """The rendezvous store of the default group (None where torch hides it)."""
    get: Callable[[], Any] | None = getattr(dist.distributed_c10d, "_get_default_store", None)
    try:
        return None if get is None else get()
    except Exception:
        return None


def _hard_exit(code: int) -> None:
    """os._exit itself, also while lrfind run turns the user's os._exit into an exception."""
    getattr(os._exit, "real", os._exit)(code)


def released(tensor: torch.Tensor, timeout_s: float = _RELEASE_S) -> bool:
    """Wait (GIL released) until no C++ work still holds `tensor`; False on timeout.

    A collective's work object outlives its wait(): gloo's worker thread drops
    it a moment later, and (in recent torch) that drop takes the GIL to release
    the tensor's Python object. If the interpreter is already shutting down by
    then, the thread is ended inside a C++ destructor and the rank aborts
    ("terminate called without an active exception", SIGABRT): torchrun fails
    a job that has finished. Seen after the last collective on a loaded 2-core
    machine, in about one run of five. Where torch has no `_use_count`, its C++
    holders do not take the GIL while the caller still holds `tensor`.
    """
    count = getattr(tensor, "_use_count", None)
    if count is None:
        return True
    deadline = time.monotonic() + timeout_s
    while count() > 1:  # 1: the caller's own reference
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def has(store: Any, key: str) -> bool:
    try:
        return bool(store.check([key]))
    except Exception:
        return False

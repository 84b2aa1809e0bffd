"""The range test under torchrun: one process per device, one decision for all.

Every rank runs build() and the same sweep on a DistributedDataParallel copy
of the model. Three rules keep the ranks together:

1. The loss the stop rule reads is the mean over the ranks (an all-reduce per
   read, see lrfind.sweep._Recorder), so every rank stops at the same step and
   none is left waiting in a collective that the others never enter.
2. A rank that fails writes its message to the rendezvous store at once. A
   watcher thread on every rank polls the store: a rank blocked inside a
   collective cannot be reached by an exception, only from another thread.
   Every rank notes that it has seen the failure, rank 0 prints the message,
   and every rank exits nonzero, the failing one first.
3. The collective timeout (--dist-timeout) ends a rank that hangs without raising.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from lrfind.config import SweepConfig
from lrfind.device import describe, resolve_device
from lrfind.errors import LrfindError, SpecError, SweepError, UsageError, describe_exception
from lrfind.result import SweepResult, analyse
from lrfind.runtime import seeded
from lrfind.shard import shard_task
from lrfind.sweep import Progress, run_sweep
from lrfind.task import Task

_POLL_S = 0.2  # how often the watcher reads the store: the delay before peers stop
_WAIT_S = 10.0  # the longest wait for the other ranks to read or show a failure
_LINGER_S = 1.0  # how long the other ranks outlive the failing one (torchrun ends them)
# Store keys: a counter of failures, the first one, how many ranks have seen it
# and whether rank 0 has shown it.
_FAILURES, _FAILURE = "lrfind/failures", "lrfind/failure"
_SEEN, _SHOWN = "lrfind/seen", "lrfind/shown"


class RankError(SweepError):
    """A failure on one rank, as every rank reports it (exit code: the failing rank's)."""

    def __init__(self, message: str, exit_code: int, quiet: bool) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        #: True where another process has shown the message: the CLI prints nothing.
        self.quiet = quiet


class Cluster:
    """This process's place in a torchrun job; a context manager around the run.

    Entering starts the watcher. Leaving normally stops it, meets the other
    ranks once more and destroys the process group. Leaving with an exception
    turns it into the RankError this rank raises (see rule 2 above).
    """

    def __init__(self, rank: int, world_size: int, device: torch.device, timeout_s: float) -> None:
        self.rank, self.world_size, self.device = rank, world_size, device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.timeout_s = timeout_s
        self.store: Any = None
        self.sharding: dict[str, Any] = {}
        self._stop = threading.Event()
        self._exiting = threading.Lock()  # taken by whoever reports the first failure
        self._watcher = threading.Thread(target=self._watch, name="lrfind-watcher", daemon=True)
        self._exit_code: int | None = None  # set once this rank has failed
        self._linger = False  # whether it waits for the failing rank to exit first

    def __enter__(self) -> Cluster:
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        try:
            dist.init_process_group(self.backend, timeout=timedelta(seconds=self.timeout_s))
        except Exception as e:
            raise SweepError(
                f"rank {self.rank} cannot join the process group ({describe_exception(e)}): check "
                f"MASTER_ADDR/MASTER_PORT and that all {self.world_size} ranks started"
            ) from e
        self.store = _default_store()
        # Registered before build() runs, so it runs after the atexit hooks of the user's code.
        atexit.register(self._exit_now)
        if self.store is not None:
            self._watcher.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: Any) -> None:
        if error is None:
            self._stop.set()
            if self._watcher.is_alive():
                self._watcher.join()
            # One last collective: no rank leaves (and takes the store with it)
            # while another's watcher may still read it.
            self.mean(torch.zeros(1, device=self.device)).item()  # .item(): wait for it (NCCL)
            dist.destroy_process_group()
            return
        if isinstance(error, KeyboardInterrupt):  # Ctrl-C reaches every rank (torchrun forwards it)
            self._stop.set()
            self._exit_code = 130
            message = "interrupted: every rank stopped, and nothing was written"
            raise RankError(message, 130, quiet=self.rank != 0) from None
        raised = self._failed(error)
        if raised is not error:
            raise raised from error

    # The sweep's hooks ---------------------------------------------------

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of `values` over all ranks; the same bits on every rank."""
        dist.all_reduce(values)
        return values / self.world_size

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The sweep's copy in DistributedDataParallel (gradients averaged over ranks)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def find_lr(self, task: Task, config: SweepConfig, progress: Progress | None) -> SweepResult:
        """lrfind.find_lr on every rank at once; every rank returns the same result."""
        _check_unwrapped(task.model)
        task, notes = shard_task(task, self.rank, self.world_size, config.seed)
        batch = getattr(task.train_loader, "batch_size", None)
        self.sharding = {
            "sharded": not notes,
            "per_rank_batch_size": batch,
            "accumulate": config.accumulate,
            "effective_batch_size": batch * self.world_size * config.accumulate if batch else None,
        }
        with seeded(config.seed, self.device):
            start = time.perf_counter()
            history = run_sweep(
                task, config, self.device, progress, reduce=self.mean, wrap=self.wrap
            )
            sweep_s = time.perf_counter() - start
        if history.stop_reason == "interrupted":  # ranks stop at different steps: stop them all
            raise KeyboardInterrupt
        history = dataclasses.replace(history, warnings=(*history.warnings, *notes))
        source = "train" if task.val_loader is None else "validation"
        return analyse(
            history, config, device=describe(self.device), sweep_s=sweep_s, loss_source=source
        )

    def summary(self) -> dict[str, Any]:
        """What the report records about the job."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "timeout_s": self.timeout_s,
            **self.sharding,
        }

    # Failures ------------------------------------------------------------

    def _failed(self, error: BaseException) -> BaseException:
        """Publish this rank's failure, or take up the one that came first; what to raise."""
        self._stop.set()
        if not self._exiting.acquire(blocking=False):
            threading.Event().wait()  # the watcher is reporting a peer's failure and exits
        code = error.exit_code if isinstance(error, LrfindError) else 1
        text = str(error) if isinstance(error, LrfindError) else describe_exception(error)
        if "timed out" in text.lower():
            text += (
                f"; no answer from the other ranks within --dist-timeout {self.timeout_s:g} s: "
                "one is stuck, or far slower (then raise --dist-timeout)"
            )
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
        self._destroy()
        self._exit_code, self._linger = first["code"], not ours
        if ours and not isinstance(error, LrfindError) and not shown:
            return error  # a bug in lrfind: keep its traceback
        out = RankError(first["message"], first["code"], quiet=shown)
        kept = ("history", "outcome")  # the partial history and report, where there are
        out.__dict__.update({k: v for k, v in error.__dict__.items() if k in kept})
        return out

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
            os._exit(failure["code"])

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
            os._exit(self._exit_code)

    def _destroy(self) -> None:
        """Leave the group without waiting on peers (NCCL's destroy can wait on a hung one)."""
        try:
            abort = getattr(dist.distributed_c10d, "_abort_process_group", None)
            if self.backend == "nccl" and abort is not None:
                abort()
            elif self.backend == "gloo":
                dist.destroy_process_group()
        except Exception:  # on the way out after a failure: nothing more to do
            pass


def join(device: str, timeout_s: float) -> Cluster:
    """This rank's Cluster, from torchrun's environment (not yet joined: use `with`)."""
    rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    return Cluster(rank, world, rank_device(device, local), timeout_s)


def rank_device(name: str, local_rank: int) -> torch.device:
    """The device of the rank with `local_rank`: cuda:LOCAL_RANK, or the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name != "cuda":
        raise UsageError(
            f"--device {name} under torchrun: each rank takes cuda:LOCAL_RANK, so use --device "
            "cuda (choose GPUs with CUDA_VISIBLE_DEVICES) or --device cpu"
        )
    resolve_device("cuda")  # a clear error when CUDA is absent
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise UsageError(
            f"LOCAL_RANK {local_rank} but this machine has {count} CUDA device(s): "
            f"start at most {count} processes per node (--nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


def _check_unwrapped(model: torch.nn.Module) -> None:
    """lrfind wraps its copy itself: a model wrapped already cannot be copied safely."""
    name = type(model).__name__
    if name in ("DistributedDataParallel", "FullyShardedDataParallel") or name.startswith("FSDP"):
        raise SpecError(
            f"build() returned a {name}-wrapped model: return the plain module (e.g. "
            "model.module); lrfind wraps its copy in DistributedDataParallel (FSDP is not "
            "supported, see the README)"
        )


def _default_store() -> Any:
    """The rendezvous store of the default group (None where torch hides it)."""
    get: Callable[[], Any] | None = getattr(dist.distributed_c10d, "_get_default_store", None)
    try:
        return None if get is None else get()
    except Exception:
        return None

"""The range test under torchrun: one process per device, one decision for all.

Every rank runs build() and the same sweep on a DistributedDataParallel copy
of the model. Three rules keep the ranks together:

1. The loss the stop rule reads is the mean over the ranks (an all-reduce per
   read, see lrfind.sweep.recorder), so every rank stops at the same step and
   none is left waiting in a collective that the others never enter.
2. A rank that fails writes its message to the rendezvous store at once; a
   watcher thread on every rank reads it, rank 0 prints it, and every rank
   exits nonzero within seconds, the failing one first (lrfind.distributed.faults).
3. The collective timeout (--dist-timeout) ends a rank that hangs without raising.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from lrfind.config.settings import SweepConfig
from lrfind.config.torchrun import TorchrunEnv
from lrfind.core.result import SweepResult
from lrfind.distributed.faults import Faults
from lrfind.distributed.shard import shard_task
from lrfind.errors import SpecError, SweepError, UsageError, describe_exception
from lrfind.sweep.device import resolve_device
from lrfind.sweep.loop import Progress
from lrfind.sweep.range_test import RankHooks, sweep_task
from lrfind.sweep.task import Task


class Cluster:
    """This process's place in a torchrun job; a context manager around the run.

    Entering joins the process group and starts the watcher. Leaving normally
    stops it, meets the other ranks once more and destroys the group. Leaving
    with an exception turns it into the RankError this rank raises (see
    lrfind.distributed.faults).
    """

    def __init__(self, rank: int, world_size: int, device: torch.device, timeout_s: float) -> None:
        self.rank, self.world_size, self.device = rank, world_size, device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.timeout_s = timeout_s
        self.sharding: dict[str, Any] = {}
        self.faults = Faults(rank, world_size, timeout_s, self._destroy)

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
        self.faults.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, tb: Any) -> None:
        if error is None:
            self.faults.stop()
            # One last collective: no rank leaves (and takes the store with it)
            # while another's watcher may still read it.
            last = torch.zeros(1, device=self.device)
            try:
                self.mean(last).item()  # .item(): wait (NCCL)
            except Exception as e:  # a rank died after its sweep (rank 0 has written by now)
                raise SweepError(
                    f"rank {self.rank}: the other ranks did not finish the run "
                    f"({describe_exception(e)})"
                ) from e
            if self.backend == "gloo":  # seen with gloo; NCCL keeps works in its watchdog thread
                released(last)
            dist.destroy_process_group()
            return
        if isinstance(error, KeyboardInterrupt):  # Ctrl-C reaches every rank (torchrun forwards it)
            raise self.faults.interrupted() from None
        raised = self.faults.failed(error)
        if raised is not error:
            raise raised from error

    def built(self) -> None:
        """Meet the other ranks once build() returned: one stuck in it fails the job in time.

        Each rank marks itself in the rendezvous store and waits for all the
        marks, at most --dist-timeout; a rank that never arrives is named,
        instead of a collective timing out in the sweep's set-up with gloo's
        or NCCL's words.
        """
        store = self.faults.store
        if store is None:
            return
        keys = [f"{_BUILT}/{r}" for r in range(self.world_size)]
        store.set(keys[self.rank], "1")
        # Polled, not store.wait(): the watcher thread shares the store's connection, and
        # must still see a peer's failure (an exit in build) while this rank waits.
        deadline = time.monotonic() + self.timeout_s
        while not all(_has(store, key) for key in keys):
            if time.monotonic() > deadline:
                missing = [str(r) for r, key in enumerate(keys) if not _has(store, key)]
                who = f"rank {missing[0]}" if len(missing) == 1 else f"ranks {', '.join(missing)}"
                raise SweepError(
                    f"waited --dist-timeout {self.timeout_s:g} s for {who} to finish build(): "
                    "stuck, or slower than that (then raise --dist-timeout)"
                )
            time.sleep(_POLL_S)

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
        sharded = not any(note.startswith("train_loader") for note in notes)
        self.sharding = batch_sizes(task.train_loader, self.world_size, config.accumulate, sharded)
        hooks = RankHooks(reduce=self.mean, wrap=self.wrap)
        result = sweep_task(task, config, self.device, progress, hooks)
        if result.stop_reason == "interrupted":  # ranks stop at different steps: stop them all
            raise KeyboardInterrupt
        return dataclasses.replace(result, warnings=[*notes, *result.warnings])

    def summary(self) -> dict[str, Any]:
        """What the report records about the job."""
        return {
            "world_size": self.world_size,
            "backend": self.backend,
            "timeout_s": self.timeout_s,
            **self.sharding,
        }

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


_BUILT = "lrfind/built"
_POLL_S = 0.1
_RELEASE_S = 5.0


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


def _has(store: Any, key: str) -> bool:
    try:
        return bool(store.check([key]))
    except Exception:
        return False


def batch_sizes(loader: object, world_size: int, accumulate: int, sharded: bool) -> dict[str, Any]:
    """The report's batch sizes: samples per rank per micro-batch, and per optimizer step.

    Ranks that all see the same batches average the same gradients: their
    effective batch is one rank's, not world_size times it.
    """
    batch = getattr(loader, "batch_size", None)
    effective = batch * (world_size if sharded else 1) * accumulate if batch else None
    return {
        "sharded": sharded,
        "per_rank_batch_size": batch,
        "accumulate": accumulate,
        "effective_batch_size": effective,
    }


def join(device: str, timeout_s: float, env: TorchrunEnv) -> Cluster:
    """This rank's Cluster, from torchrun's environment (not yet joined: use `with`)."""
    return Cluster(env.rank, env.world_size, rank_device(device, env.local_rank), timeout_s)


def rank_device(name: str, local_rank: int) -> torch.device:
    """The device of the rank with `local_rank`: cuda:LOCAL_RANK, or the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name != "cuda":
        raise UsageError(
            f"--device {name} under torchrun: each rank takes cuda:LOCAL_RANK, so use --device "
            "cuda (choose GPUs with CUDA_VISIBLE_DEVICES) or --device cpu",
            setting="device",
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
            "supported, see docs/torchrun.md)"
        )

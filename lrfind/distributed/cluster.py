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
from lrfind.distributed.faults import Faults, has, released
from lrfind.distributed.shard import (
    Unused,
    batch_sizes,
    check_unwrapped,
    idle_parameters,
    outside_compile,
    own_split,
    per_rank,
    shard_task,
)
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

    def __init__(
        self,
        rank: int,
        world_size: int,
        device: torch.device,
        timeout_s: float,
        debug: bool = False,
    ) -> None:
        self.rank, self.world_size, self.device = rank, world_size, device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.timeout_s = timeout_s
        self.sharding: dict[str, Any] = {}
        self.faults = Faults(rank, world_size, timeout_s, self._destroy)
        self.faults.debug = debug
        #: Why the DDP copy is wrapped with find_unused_parameters=True (None: it is not).
        self.unused: str | None = None

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
            self._finished()
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
        missing = self._meet(_BUILT, time.monotonic())
        if missing:
            who = f"rank {missing[0]}" if len(missing) == 1 else f"ranks {', '.join(missing)}"
            raise SweepError(
                f"waited --dist-timeout {self.timeout_s:g} s for {who} to finish build(): "
                "stuck, or slower than that (then raise --dist-timeout)"
            )

    def _finished(self) -> None:
        """Meet the other ranks at the end, for as long as rank 0 takes to write its files.

        --dist-timeout bounds a collective of the sweep, not the writing of the
        report and plot: only once rank 0 is done does the wait for the rest
        start (a rank that never comes is then left to the last collective).
        The watcher runs meanwhile: a failure of rank 0's still ends every rank.
        """
        self._meet(_DONE, None)

    def _meet(self, name: str, since: float | None) -> list[str]:
        """Mark this rank `name` in the store and wait for every rank's mark: the ranks missing
        --dist-timeout after `since` (None: after rank 0 marked itself).

        Polled, not store.wait(): the watcher thread shares the store's connection, and
        must still see a peer's failure (an exit in build) while this rank waits.
        """
        store = self.faults.store
        if store is None:
            return []
        keys = [f"{name}/{r}" for r in range(self.world_size)]
        store.set(keys[self.rank], "1")
        while not all(has(store, key) for key in keys):
            if since is None and has(store, keys[0]):
                since = time.monotonic()
            if since is not None and time.monotonic() > since + self.timeout_s:
                return [str(r) for r, key in enumerate(keys) if not has(store, key)]
            time.sleep(_POLL_S)
        return []

    # The sweep's hooks ---------------------------------------------------

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean of `values` over all ranks; the same bits on every rank."""
        dist.all_reduce(values)
        return values / self.world_size

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The sweep's copy in DistributedDataParallel (gradients averaged over ranks).

        Wrapped as DDP's default (every parameter takes part in every forward)
        until the first training forward shows parameters that took no part on
        some rank (`idle_parameters`): then the sweep starts again, wrapped
        with find_unused_parameters=True (without, DDP fails at the second step,
        or gloo aborts when the ranks differ).
        """
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        unused = self.unused is not None
        ddp = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)
        if not unused:
            hooks: list[Any] = []

            def first(module: torch.nn.Module, args: Any, out: Any) -> None:
                if torch.is_grad_enabled():  # not a validation pass
                    hooks.pop().remove()
                    self.unused = idle_parameters(module, out, self.device, self.world_size)
                    if self.unused is not None:  # on every rank: again, wrapped for them
                        raise Unused(self.unused)

            hooks.append(ddp.register_forward_hook(outside_compile(first)))
        return ddp

    def find_lr(self, task: Task, config: SweepConfig, progress: Progress | None) -> SweepResult:
        """lrfind.find_lr on every rank at once; every rank returns the same result."""
        check_unwrapped(task.model)
        given = task
        task, notes = shard_task(task, self.rank, self.world_size, config.seed)
        sharded = not any(note.startswith("train_loader") for note in notes)
        self.sharding = batch_sizes(task.train_loader, self.world_size, config.accumulate, sharded)
        hooks = RankHooks(reduce=self.mean, wrap=self.wrap)
        try:
            try:
                result = sweep_task(task, config, self.device, progress, hooks)
            except Unused:  # every rank, at its first forward: again, with them found
                result = sweep_task(task, config, self.device, progress, hooks)
        except SpecError as e:
            if task.val_loader is not given.val_loader and not own_split(given.val_loader):
                per_rank(e, given.val_loader, self.world_size)
            raise
        if result.stop_reason == "interrupted":  # ranks stop at different steps: stop them all
            raise KeyboardInterrupt
        unused = () if self.unused is None else (self.unused,)
        return dataclasses.replace(result, warnings=[*notes, *unused, *result.warnings])

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


_BUILT, _DONE = "lrfind/built", "lrfind/done"
_POLL_S = 0.1


def join(device: str, timeout_s: float, env: TorchrunEnv, debug: bool = False) -> Cluster:
    """This rank's Cluster, from torchrun's environment (not yet joined: use `with`)."""
    return Cluster(env.rank, env.world_size, rank_device(device, env.local_rank), timeout_s, debug)


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

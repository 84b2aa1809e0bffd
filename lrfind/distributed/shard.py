"""Giving each rank its own share of the data under torchrun; what DDP needs of the model.

A plain DataLoader (a map-style dataset, shuffled or in order, batched by
batch_size) is rebuilt with a DistributedSampler, so the ranks see different
batches; one that build() made with a torch DistributedSampler is rebuilt with
the same split. Either way the order comes from --seed, as a shuffled
DataLoader's does in one process: each repeat has its own. A subclass of
DistributedSampler is used as it is. Anything else cannot be split from
outside: every rank then sees the same batches, and the report says so.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.distributed
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
)

from lrfind.errors import SpecError, SweepError
from lrfind.sweep.mistakes import wrapper_name
from lrfind.sweep.task import Task


class _Sampler(DistributedSampler):
    """A DistributedSampler whose order comes from its `generator`, a new one on every pass.

    The sweep seeds that generator with its seed, as it seeds a shuffled
    DataLoader's (lrfind.sweep.guards.seeded): every rank draws the same order,
    and each --repeats seed its own (a seed fixed here gave every repeat the
    same batches).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __iter__(self) -> Iterator[Any]:
        if self.shuffle:
            self.seed = int(torch.randint(2**62, (1,), generator=self.generator))
        return super().__iter__()


def shard_loader(
    loader: Iterable[Any], rank: int, world_size: int, seed: int
) -> Iterable[Any] | None:
    """`loader` split over the ranks; itself if already split; None if it cannot be split."""
    if not isinstance(loader, DataLoader):
        return None
    sampler = loader.sampler
    batched = loader.batch_size is not None and type(loader.batch_sampler) is BatchSampler
    if isinstance(sampler, DistributedSampler):  # build's own split: its order from --seed too
        if type(sampler) is not DistributedSampler or not batched:
            return loader  # a subclass (or batching) of the user's own: used as it is
        world_size, rank, shuffle = sampler.num_replicas, sampler.rank, sampler.shuffle
        split = _Sampler(loader.dataset, world_size, rank, shuffle, seed, sampler.drop_last)
        return _rebuilt(loader, split)
    plain = type(sampler) is SequentialSampler or (
        type(sampler) is RandomSampler
        and not sampler.replacement
        and getattr(sampler, "_num_samples", None) is None
    )
    if isinstance(loader.dataset, IterableDataset) or not plain or not batched:
        return None
    shuffle = isinstance(sampler, RandomSampler)
    split = _Sampler(loader.dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
    return _rebuilt(loader, split)


def _rebuilt(loader: DataLoader, split: DistributedSampler) -> DataLoader:
    """`loader` drawing its samples from `split`, all else the same."""
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=split,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        prefetch_factor=loader.prefetch_factor,
        persistent_workers=loader.persistent_workers,
    )


def shard_task(task: Task, rank: int, world_size: int, seed: int) -> tuple[Task, tuple[str, ...]]:
    """The task with its loaders split over the ranks, and warnings for those that cannot be."""
    if world_size == 1:
        return task, ()
    notes = []
    changes = {}
    for name in ("train_loader", "val_loader"):
        loader = getattr(task, name)
        if loader is None:
            continue
        split = shard_loader(loader, rank, world_size, seed)
        if split is None:
            notes.append(
                f"{name} cannot be split over the {world_size} ranks, so every rank sees the same "
                "batches (the effective batch is one rank's): build it as a DataLoader with a "
                "torch.utils.data.DistributedSampler"
            )
        elif split is not loader:
            changes[name] = split
    return dataclasses.replace(task, **changes), tuple(notes)


def per_rank(error: Exception, loader: Any, world_size: int) -> None:
    """Say in `error` that its val_loader count is one rank's share of what build() gave.

    --val-batches K takes K batches on each rank, from the val_loader lrfind
    split over the ranks: "val_loader has only 4 batches" read as the user's
    loader (of 8) would be wrong.
    """
    try:
        total = len(loader)
    except TypeError:
        return
    found = re.search(r"val_loader has only (\d+) batches", str(error))
    if found is not None:
        words = (
            f"{found.group(0)} on each rank (lrfind split its {total} batches over the "
            f"{world_size} ranks, and --val-batches counts one rank's)"
        )
        error.args = (str(error).replace(found.group(0), words, 1), *error.args[1:])


def own_split(loader: object) -> bool:
    return isinstance(getattr(loader, "sampler", None), DistributedSampler)


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


# What DDP needs of the model ------------------------------------------


class Unused(SweepError):
    """The first forward found parameters that took no part: the sweep starts again."""


def idle_parameters(ddp: Any, out: Any, device: torch.device, world_size: int) -> str | None:
    """What to say about the parameters that `out` (the first training forward's) does not
    reach on some rank; None if it reaches them all. One collective: every rank calls it."""
    ignored = set(getattr(ddp.module, "_ddp_params_and_buffers_to_ignore", ()))
    named = [(n, p) for n, p in ddp.module.named_parameters() if p.requires_grad]
    named = [(n, p) for n, p in named if n not in ignored]
    seen = reached(out)  # None: cannot tell (reentrant checkpointing): all count as used
    flags = [int(seen is not None and id(p) not in seen) for _, p in named]
    counts = torch.tensor(flags, dtype=torch.int32, device=device)
    torch.distributed.all_reduce(counts)
    idle = [(n, c) for (n, _), c in zip(named, counts.tolist(), strict=True) if c]
    if not idle:
        return None
    names = ", ".join(n for n, _ in idle[:3]) + (f" and {len(idle) - 3} more" if idle[3:] else "")
    some = all(c < world_size for _, c in idle)
    return (
        f"parameters that took no part in the forward pass{' on some ranks only' if some else ''}"
        f" ({names}): lrfind wrapped its DDP copy with find_unused_parameters=True, as your DDP "
        "training needs too" + ("" if some else " (or freeze them: requires_grad=False)")
    )


def reached(out: Any) -> set[int] | None:
    """The ids of the leaf tensors (parameters) `out`'s autograd graph reaches; None where
    a reentrant checkpoint hides them (its backward recomputes its part of the graph)."""
    stack = [out]
    found: set[int] = set()
    seen: dict[int, Any] = {}  # kept alive: a node's id is not reused while we walk
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            found.update([id(item)] if item.grad_fn is None else ())
            stack.append(item.grad_fn)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif item is not None and hasattr(item, "next_functions") and id(item) not in seen:
            seen[id(item)] = item
            if "CheckpointFunction" in type(item).__name__:
                return None
            variable = getattr(item, "variable", None)
            found.update([id(variable)] if variable is not None else ())
            stack.extend(fn for fn, _ in item.next_functions)
    return found


def outside_compile(hook: Any) -> Any:
    """`hook` run eagerly under torch.compile (it walks the graph and meets the ranks)."""
    disable = getattr(getattr(torch, "compiler", None), "disable", None)
    return hook if disable is None else disable(hook)


def check_unwrapped(model: torch.nn.Module) -> None:
    """lrfind wraps its copy itself: a model wrapped already cannot be copied safely."""
    name = wrapper_name(model)
    if name is not None:
        raise SpecError(
            f"build() returned a {name}-wrapped model: return the plain module (e.g. "
            "model.module); lrfind wraps its copy in DistributedDataParallel (FSDP is not "
            "supported, see docs/torchrun.md)"
        )

"""Giving each rank its own share of the data under torchrun.

A DataLoader that build() made with a DistributedSampler is used as it is.
A plain one (a map-style dataset, shuffled or in order, batched by
batch_size) is rebuilt with a DistributedSampler, so the ranks see different
batches. Anything else cannot be split from outside: every rank then sees the
same batches, and the report says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
)

from lrfind.sweep.task import Task


class _Sampler(DistributedSampler):
    """A DistributedSampler that reshuffles on every pass, as a shuffled DataLoader does."""

    def __iter__(self) -> Iterator[Any]:
        indices = super().__iter__()
        self.set_epoch(self.epoch + 1)
        return indices


def shard_loader(
    loader: Iterable[Any], rank: int, world_size: int, seed: int
) -> Iterable[Any] | None:
    """`loader` split over the ranks; itself if already split; None if it cannot be split."""
    if not isinstance(loader, DataLoader):
        return None
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    sampler = loader.sampler
    plain = type(sampler) is SequentialSampler or (
        type(sampler) is RandomSampler
        and not sampler.replacement
        and getattr(sampler, "_num_samples", None) is None
    )
    batched = loader.batch_size is not None and type(loader.batch_sampler) is BatchSampler
    if isinstance(loader.dataset, IterableDataset) or not plain or not batched:
        return None
    shuffle = isinstance(sampler, RandomSampler)
    split = _Sampler(loader.dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed)
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

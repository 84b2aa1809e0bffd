"""The batches a sweep draws: the train loader cycled, fixed val batches, why a loader is
empty or gave BatchNorm a batch of one."""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from lrfind.errors import SpecError, UsageError, user_code


def fixed_batches(loader: Iterable[Any] | None, count: int, stack: str | None = None) -> list[Any]:
    """The first `count` batches of the val_loader, kept: the same batches at every step.

    A shuffled loader would give different batches each pass, and the
    validation loss would then change with the batches, not only with the LR.
    `stack` (a Stack's name) picks the fix when there is no loader.
    """
    if loader is None:
        fix = val_data_fix(stack, "return a dict with a 'val_loader' key")
        raise UsageError(
            f"--val-batches {count} needs a validation loader, and build() returned none: "
            f"{fix}, or drop --val-batches",
            setting="val_batches",  # a config file's line is named
        )
    with user_code(f"taking {count} val_loader batch{'es' if count > 1 else ''} (--val-batches)"):
        batches = list(itertools.islice(loader, count))
    if not batches:  # --val-batches 0 is no option: the fix is the loader, or no validation
        raise SpecError(
            f"val_loader yields no batches: {why_empty(loader)} (or drop --val-batches)"
        )
    if len(batches) < count:
        raise SpecError(
            f"val_loader has only {len(batches)} batches, fewer than --val-batches {count}: "
            f"lower --val-batches to {len(batches)} or less"
        )
    return batches


def val_data_fix(stack: str | None, plain: str) -> str:
    """How to give lrfind validation data: `plain` for a plain build, else the way of the
    stack named `stack` (a Trainer's eval_dataset, Lightning's val_dataloader())."""
    if stack is None:
        return plain
    if "Trainer" in stack:
        return "give the Trainer an eval_dataset"
    return "define val_dataloader() in the LightningModule or its datamodule"


def check_sized(loader: Any) -> None:
    """SpecError for a val_loader with no length, evaluated whole after every step: an
    IterableDataset's stream may never end (the sweep would hang in its first evaluation)."""
    try:
        len(loader)
    except TypeError:
        raise SpecError(
            f"val_loader ({type(loader).__name__}) has no length (an IterableDataset, a "
            "generator), and lrfind evaluates it whole after every step: pass --val-batches K "
            "(its first K batches, kept for every step)"
        ) from None


def samplers_of(loader: Any) -> list[Any]:
    """A loader's sampler, batch sampler and the batch sampler's sampler, each once, where it
    has them: where its order (a generator, an epoch) lives."""
    batch_sampler = getattr(loader, "batch_sampler", None)
    found = (
        getattr(loader, "sampler", None),
        batch_sampler,
        getattr(batch_sampler, "sampler", None),  # a DataLoader's own sampler again, mostly
    )
    return list({id(obj): obj for obj in found if obj is not None}.values())


def _dataset_size(loader: Any) -> int | None:
    with contextlib.suppress(Exception):  # the user's objects: any of it may be missing or fail
        return len(loader.dataset)
    return None


def why_empty(loader: Any) -> str:
    """Why a loader gave no batch, and the fix, from what a DataLoader says about itself."""
    if isinstance(loader, list | tuple):
        return f"it is an empty {type(loader).__name__}: check how build() fills it"
    size, drawn, batch = _dataset_size(loader), None, None
    with contextlib.suppress(Exception):  # the user's objects: any of it may be missing or fail
        drawn = len(loader.sampler)
    batcher = getattr(loader, "batch_sampler", None)  # drop_last and the size may live here
    with contextlib.suppress(Exception):
        batch = int(loader.batch_size if loader.batch_size is not None else batcher.batch_size)
    drop_last = bool(getattr(loader, "drop_last", False) or getattr(batcher, "drop_last", False))
    if size == 0:
        return "its dataset is empty: check the data path or the split"
    if drawn == 0:
        return (
            f"its sampler draws none of the {size} samples in its dataset: check the "
            "sampler's indices (an empty SubsetRandomSampler or Subset?)"
        )
    n = drawn or size
    if n and batch and n < batch and drop_last:
        return (
            f"its dataset has {n} samples, fewer than one batch ({batch}) with "
            "drop_last=True: lower batch_size or set drop_last=False"
        )
    return "is its dataset empty, or drop_last=True with fewer samples than one batch?"


def cycle(loader: Iterable[Any], per_step: int = 1) -> Iterator[Any]:
    """Yield batches forever, restarting the loader whenever it runs out (`per_step`: the
    batches one optimizer step takes, --accumulate, for the error's fix).

    Each restart is a new epoch, as in a training loop: a sampler with set_epoch (a
    DistributedSampler, whose order is otherwise the same on every pass) is told so, and
    its epoch is put back when the generator is closed.
    """
    samplers = [s for s in samplers_of(loader) if callable(getattr(s, "set_epoch", None))]
    epochs = [getattr(s, "epoch", None) for s in samplers]
    seen = passes = 0
    try:
        while True:
            if passes:
                for sampler, epoch in zip(samplers, epochs, strict=True):
                    sampler.set_epoch((epoch or 0) + passes)
            before = seen
            for batch in loader:
                seen += 1
                yield batch
            passes += 1
            if seen == 0:
                raise SpecError(f"train_loader yielded no batches: {why_empty(loader)}")
            if seen == before:
                lower = "--steps"
                if per_step > 1:
                    lower += f" or --accumulate (each step takes {per_step} batches)"
                raise SpecError(
                    f"train_loader stopped after {seen} batches and cannot restart (a "
                    f"generator?): return a DataLoader or a list, or lower {lower}"
                )
    finally:
        for sampler, epoch in zip(samplers, epochs, strict=True):
            if passes and isinstance(epoch, int):
                sampler.set_epoch(epoch)


def own_workers(loader: Any) -> Any:
    """The loader to sweep with: a DataLoader with persistent workers is swept through a
    shallow copy with no iterator yet, so the sweep starts its own (seeded) workers.

    The user's persistent iterator would carry its workers' advanced RNG from sweep to sweep
    (the same seed, another curve), and one shared by the train and validation passes would
    restart the training epoch at every evaluation. The copy's workers end with the copy.
    """
    if not (getattr(loader, "persistent_workers", False) and hasattr(loader, "_iterator")):
        return loader
    ours = copy.copy(loader)  # shares the dataset and sampler: the same batches, in order
    ours._iterator = None
    return ours


def batch_of_one(loader: Any, validation: bool = False) -> str:
    """The fix (a "; ..." hint) for a batch of one sample that reached BatchNorm in training
    mode: in `loader`, the train_loader, or with `validation` the val_loader, which lrfind
    evaluates with BatchNorm on batch statistics (see lrfind.sweep.evaluate)."""
    name = "val_loader" if validation else "train_loader"
    why = "lrfind's validation pass runs BatchNorm on batch statistics, and " if validation else ""
    size, n = getattr(loader, "batch_size", None), _dataset_size(loader)
    if size == 1:
        return f"; {why}the {name} gives batches of 1 sample: use a batch_size of 2 or more"
    if size and n and n % size == 1 and not getattr(loader, "drop_last", False):
        return (
            f"; {why}the {name}'s last batch holds 1 sample ({n} samples, batch_size {size}), "
            f"too few for BatchNorm in training mode: pass drop_last=True to the {name}"
        )
    return f"; {why}a {name} batch of 1 sample reached BatchNorm: use drop_last=True on it"

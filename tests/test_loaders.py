"""How the sweep draws from the user's loaders: epochs, workers, generators, lengths."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from lrfind import SpecError, find_lr

from .assets import tiny

NEVER = 1e12  # a divergence threshold that never triggers


class _Indexed(Dataset):
    """Samples that carry their index, with a random augmentation (drawn in the worker)."""

    def __init__(self, n: int = 64) -> None:
        self.x, self.y = tiny._data(n)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        return self.x[i] + 0.1 * torch.randn(4), self.y[i : i + 1], i


def _recording(seen: list[int]) -> Any:
    loss = nn.MSELoss()

    def step_fn(model: nn.Module, batch: Any) -> torch.Tensor:
        x, y, index = batch
        if model.training:  # the training batches, not the validation pass's
            seen.append(int(index[0]))
        return loss(model(x), y)

    return step_fn


MODEL = tiny.build()[0]  # every sweep copies it: the same start


def _sweep(loader: Any, seen: list[int], **kwargs: Any) -> Any:
    settings = {"steps": 12, "end_lr": 1e-3, "diverge_threshold": NEVER, **kwargs}
    return find_lr(MODEL, loader, step_fn=_recording(seen), device="cpu", **settings)


def test_a_distributed_samplers_restart_is_a_new_epoch_and_its_epoch_is_put_back() -> None:
    sampler = DistributedSampler(_Indexed(), num_replicas=1, rank=0, shuffle=True)
    sampler.set_epoch(3)
    seen: list[int] = []
    _sweep(DataLoader(_Indexed(), batch_size=16, sampler=sampler), seen)
    passes = [seen[0:4], seen[4:8], seen[8:12]]  # 4 batches a pass
    assert passes[0] != passes[1] != passes[2]  # the same order on every pass, before
    assert sampler.epoch == 3


def test_a_batch_samplers_own_generator_is_seeded_and_put_back() -> None:
    class Buckets(torch.utils.data.Sampler):
        def __init__(self) -> None:
            self.generator = torch.Generator().manual_seed(5)

        def __iter__(self) -> Any:
            order = torch.randperm(64, generator=self.generator).tolist()
            return iter([order[i : i + 16] for i in range(0, 64, 16)])

        def __len__(self) -> int:
            return 4

    buckets = Buckets()
    before = buckets.generator.get_state()
    runs = []
    for seed in (0, 0, 1):
        seen: list[int] = []
        _sweep(DataLoader(_Indexed(), batch_sampler=buckets), seen, seed=seed)
        runs.append(seen)
    assert torch.equal(buckets.generator.get_state(), before)
    assert runs[0] == runs[1] != runs[2]  # --seed reaches it


def test_persistent_workers_are_the_sweeps_own() -> None:
    """The same curve twice, and a validation pass on the same loader keeps the epoch."""
    loader = DataLoader(_Indexed(), batch_size=16, num_workers=2, persistent_workers=True)
    first, second = _sweep(loader, []), _sweep(loader, [])
    assert first.history.losses == second.history.losses  # fresh, seeded workers each sweep
    seen: list[int] = []
    _sweep(loader, seen, val_loader=loader)
    assert seen == [0, 16, 32, 48] * 3  # it was [0] * 12: each evaluation reset the epoch


def test_a_val_loader_with_no_length_needs_val_batches() -> None:
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self) -> Any:  # finite here; a stream may never end, and lrfind hung
            x, y = tiny._data(16)
            yield from zip(x, y.unsqueeze(1), strict=True)

    model, train, loss = tiny.build()
    with pytest.raises(SpecError, match="has no length.*--val-batches K"):
        find_lr(model, train, loss, val_loader=DataLoader(Stream(), batch_size=4), steps=8)
    result = find_lr(
        model, train, loss, val_loader=DataLoader(Stream(), batch_size=4), steps=8, val_batches=2
    )
    assert result.steps_run == 8


def test_a_val_loader_that_cannot_restart_says_so() -> None:
    class Once:
        def __init__(self) -> None:
            x, y = tiny._data(32)
            self.batches = iter([(x[:16], y[:16, None]), (x[16:], y[16:, None])])

        def __len__(self) -> int:
            return 2

        def __iter__(self) -> Any:
            return self.batches

    model, train, loss = tiny.build()
    with pytest.raises(SpecError, match="gave 2 batches in the first validation pass and none"):
        find_lr(model, train, loss, val_loader=Once(), steps=8)


def test_tensor_dataset_loaders_are_untouched_by_own_workers() -> None:
    from lrfind.sweep.loaders import own_workers

    plain = DataLoader(TensorDataset(*tiny._data()), batch_size=16)
    assert own_workers(plain) is plain and own_workers([1, 2]) == [1, 2]


def test_why_a_loader_is_empty_reads_its_sampler_and_batch_sampler() -> None:
    from torch.utils.data import BatchSampler, SequentialSampler, SubsetRandomSampler

    from lrfind.sweep.loaders import why_empty

    data = TensorDataset(*tiny._data(10))
    assert why_empty([]) == "it is an empty list: check how build() fills it"
    none_drawn = DataLoader(data, sampler=SubsetRandomSampler([]), batch_size=4)
    assert why_empty(none_drawn).startswith("its sampler draws none of the 10 samples")
    batcher = BatchSampler(SequentialSampler(data), batch_size=16, drop_last=True)
    assert why_empty(DataLoader(data, batch_sampler=batcher)) == (
        "its dataset has 10 samples, fewer than one batch (16) with drop_last=True: "
        "lower batch_size or set drop_last=False"
    )


def test_a_loader_that_cannot_restart_names_accumulate_when_it_is_set() -> None:
    x, y = tiny._data(64)
    once = ((x[i : i + 8], y[i : i + 8, None]) for i in range(0, 64, 8))  # 8 batches
    model, _, loss = tiny.build()
    with pytest.raises(SpecError, match=r"lower --steps or --accumulate \(each step takes 4"):
        find_lr(model, once, loss, steps=10, accumulate=4, diverge_threshold=NEVER)

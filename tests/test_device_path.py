"""The accelerator path, exercised on the CPU: chunked loss reads, pinned loaders, placement."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lrfind import SweepConfig, find_lr
from lrfind.core.history import History
from lrfind.sweep.device import pinned_loader, resident_warning
from lrfind.sweep.guards import seeded
from lrfind.sweep.loop import run_sweep
from lrfind.sweep.recorder import Recorder

from .assets import tiny

CPU = torch.device("cpu")


def _sweep(sync_every: int, **task_fields: object) -> History:
    with seeded(0, CPU):  # the same weights, batches and curve for every call
        task = tiny.build_task()
        for name, value in task_fields.items():
            setattr(task, name, value)
        return run_sweep(task, SweepConfig(steps=100, device="cpu"), CPU, sync_every=sync_every)


def test_chunked_reads_give_the_per_step_history_and_record_the_overshoot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    per_step = _sweep(1)
    reads = []
    flush = Recorder.flush

    def counting_flush(self: Recorder) -> str | None:
        reads.append(len(self.pending))  # how many losses this host read brings back
        return flush(self)

    monkeypatch.setattr(Recorder, "flush", counting_flush)
    chunked = _sweep(10)
    n = per_step.steps_run
    assert per_step.stop_reason == chunked.stop_reason == "diverged" and n < 100
    # The same points, bit for bit: the stop rule sees every loss, only later.
    assert chunked.lrs == per_step.lrs and chunked.losses == per_step.losses
    assert chunked.smoothed == per_step.smoothed
    # Steps run past the stop point before it was read back: counted, not recorded.
    assert per_step.overshoot == 0
    assert chunked.overshoot == min(10 * math.ceil(n / 10), 100) - n
    # One host read per 10 steps, not one per step.
    assert [r for r in reads if r] == [10] * math.ceil(n / 10)


def test_nan_inside_a_chunk_stops_there() -> None:
    calls = 0

    def nan_from_step_25(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        loss = nn.functional.mse_loss(out, y)
        return loss * math.nan if calls >= 25 else loss

    history = _sweep(10, loss_fn=nan_from_step_25)
    assert history.stop_reason == "nan"
    assert history.steps_run == 25 and math.isnan(history.losses[-1])
    assert history.overshoot == 5 and calls == 30  # the rest of the chunk ran, unrecorded


def test_cuda_sweeps_a_pinned_copy_of_a_dataloader() -> None:
    loader = tiny._loader()
    ours, pinned = pinned_loader(loader, torch.device("cuda"))
    assert pinned and ours is not loader and ours.pin_memory
    assert not loader.pin_memory  # the user's loader is left as it was
    # The same batches in the same order: the copy shares dataset and sampler.
    assert ours.dataset is loader.dataset and ours.batch_sampler is loader.batch_sampler


def test_no_pinning_on_the_cpu_or_for_other_iterables() -> None:
    loader = tiny._loader()
    assert pinned_loader(loader, CPU) == (loader, False)
    batches = list(loader)
    assert pinned_loader(batches, torch.device("cuda")) == (batches, False)
    already = torch.utils.data.DataLoader(loader.dataset, batch_size=4, pin_memory=True)
    assert pinned_loader(already, torch.device("cuda")) == (already, True)


def test_report_says_whether_batches_were_pinned() -> None:
    result = find_lr(*tiny.build(), steps=20)
    assert result.history.pinned is False  # on the CPU there is nothing to pin for


def test_a_model_already_on_the_sweep_device_is_a_warning() -> None:
    on_cpu = nn.Linear(256, 1024)
    assert resident_warning(on_cpu, CPU) is None
    assert resident_warning(on_cpu, torch.device("cuda", 0)) is None  # only the copy moves
    # The meta device stands in for an accelerator: same placement test, no memory.
    resident = nn.Linear(256, 1024, device="meta")
    warning = resident_warning(resident, torch.device("meta"))
    assert warning is not None
    assert "already on meta" in warning and "+1 MiB" in warning and "on the CPU" in warning

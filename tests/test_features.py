"""Large-model options on the CPU: --amp, --accumulate, --compile, --channels-last."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from lrfind import find_lr
from lrfind.config.settings import SweepConfig
from lrfind.core.curve import lr_schedule
from lrfind.output.terminal import training_lines
from lrfind.sweep.recorder import Recorder

from .assets import tiny


class AutocastSpy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.seen: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        AutocastSpy.seen.append(torch.is_autocast_enabled("cpu"))
        return self.net(x)


def test_bf16_runs_under_autocast() -> None:
    AutocastSpy.seen = []
    _, loader, loss = tiny.build()
    result = find_lr(AutocastSpy(), loader, loss, amp="bf16", steps=60)
    assert result.stop_reason == "diverged" and result.suggested_lr is not None
    assert AutocastSpy.seen and all(AutocastSpy.seen)
    assert result.config.amp == "bf16"


def test_fp16_skipped_steps_keep_their_losses_on_the_curve() -> None:
    # GradScaler starts at a scale of 2**16: the first fp16 steps overflow and are skipped;
    # each loss was still measured, so each is a point (only its update was not made).
    result = find_lr(*tiny.build(), amp="fp16", steps=60)
    h = result.history
    assert h.skipped > 0 and h.stop_reason == "diverged"
    assert h.lrs == lr_schedule(1e-7, 10.0, 60)[: h.steps_run]  # no step is missing
    assert f"the GradScaler skipped {h.skipped} steps" in training_lines(result)[0]


@pytest.mark.parametrize("sync_every", [1, 4])
def test_a_blow_up_the_scaler_skips_still_stops_the_sweep(sync_every: int) -> None:
    # At the top of an fp16 sweep the gradients overflow and every step is skipped: the
    # losses rising there are what the divergence is seen by.
    config = SweepConfig(steps=40)
    rec = Recorder(config, lr_schedule(1e-7, 10.0, 40), sync_every, None)
    losses = [1.0 - 0.01 * i for i in range(30)] + [10.0**k for k in range(1, 11)]
    for step, value in enumerate(losses):  # as lrfind.sweep.loop does: until a stop
        if rec.add(step, torch.tensor(value), torch.tensor(step >= 30)):
            break
    h = rec.history("completed")
    assert h.stop_reason == "diverged" and 30 < len(h.lrs) < 40
    assert h.skipped == len(h.lrs) - 30  # the skipped steps up to the stop, each a point


def test_accumulate_averages_micro_batches_and_counts_calls() -> None:
    x = torch.ones(4, 4)
    batches = [(x, torch.zeros(4, 1)), (x, torch.full((4, 1), 2.0))]
    model = nn.Linear(4, 1)
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
    calls = []

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        return ((out - y) ** 2).mean()

    # LRs so small the weights stay ~0: micro-batch losses stay 0 and 4.
    result = find_lr(model, batches, loss_fn, accumulate=2, steps=10, start_lr=1e-12, end_lr=1e-11)
    assert len(calls) == 2 * 10 and result.steps_run == 10  # one LR point per optimizer step
    assert result.history.losses == pytest.approx([2.0] * 10, rel=1e-6)  # (0 + 4) / 2


def test_channels_last_copy_and_inputs() -> None:
    seen = []

    class Conv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.is_contiguous(memory_format=torch.channels_last))
            seen.append(self.conv.weight.is_contiguous(memory_format=torch.channels_last))
            return self.head(self.conv(x).mean((2, 3)))

    images = [(torch.randn(8, 3, 8, 8), torch.randint(0, 2, (8,))) for _ in range(3)]
    model = Conv()
    result = find_lr(model, images, nn.CrossEntropyLoss(), channels_last=True, steps=20)
    assert result.steps_run > 5 and seen and all(seen)
    assert not model.conv.weight.is_contiguous(
        memory_format=torch.channels_last
    )  # user's untouched


@pytest.mark.slow
def test_compile_gives_the_same_curve_and_keeps_compile_time_out_of_the_loop() -> None:
    model, loader, loss = tiny.build()
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    buffers = copy.deepcopy(dict(model.named_buffers()))
    plain = find_lr(model, loader, loss, steps=40)
    compiled = find_lr(model, loader, loss, steps=40, compile=True)
    assert compiled.history.lrs == plain.history.lrs
    assert compiled.history.losses == pytest.approx(plain.history.losses, rel=1e-4)
    assert compiled.history.setup_s > compiled.history.loop_s  # compilation is in the set-up
    for name, value in model.named_buffers():  # the warm-up left no trace on the user's model
        assert torch.equal(value, buffers[name])

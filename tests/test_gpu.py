"""CUDA only (marked gpu; skipped without CUDA, as in CI): the device path of the sweep."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from lrfind import find_lr
from lrfind.sweep.device import pinned_loader
from lrfind.sweep.recorder import SYNC_EVERY

from .assets import tiny

pytestmark = pytest.mark.gpu


def _pinned_loader() -> torch.utils.data.DataLoader:
    x, y = tiny._data(256)
    dataset = torch.utils.data.TensorDataset(x, y.unsqueeze(1))
    return torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True, pin_memory=True)


def test_only_the_copy_goes_to_the_gpu() -> None:
    model, _, loss = tiny.build()
    result = find_lr(model, _pinned_loader(), loss, device="cuda", steps=60)
    assert result.device.startswith("cuda:0 (")
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert result.suggested_lr is not None


def test_a_class_weighted_loss_built_on_the_cpu_sweeps_on_the_gpu() -> None:
    x, y = tiny._data(256)
    classes = (y > y.median()).long()
    loader = torch.utils.data.DataLoader(list(zip(x, classes, strict=True)), batch_size=32)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    loss = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 3.0]))
    result = find_lr(model, loader, loss, device="cuda", steps=30)
    assert len(result.history.losses) > 5 and loss.weight.device.type == "cpu"


def test_no_host_sync_every_step() -> None:
    model, _, loss = tiny.build()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = find_lr(model, _pinned_loader(), loss, device="cuda", steps=100,
                             end_lr=1e-3, diverge_threshold=1e9)  # fmt: skip
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    assert result.steps_run == 100
    assert len(syncs) <= 100 // SYNC_EVERY + 10, len(syncs)  # chunks, not steps


def test_overshoot_is_recorded_and_left_out() -> None:
    model, _, loss = tiny.build()
    result = find_lr(model, _pinned_loader(), loss, device="cuda", steps=100)
    assert result.stop_reason == "diverged"
    assert 0 <= result.history.overshoot < SYNC_EVERY


def test_peak_gpu_memory_close_to_the_bare_loop() -> None:
    model = nn.Sequential(nn.Linear(4, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.Linear(4096, 1))
    loader, loss = _pinned_loader(), nn.MSELoss()
    torch.cuda.reset_peak_memory_stats()
    bare = copy.deepcopy(model).cuda()
    opt = torch.optim.SGD(bare.parameters(), lr=1e-6, momentum=0.9)
    for x, y in loader:
        opt.zero_grad(set_to_none=True)
        loss(bare(x.cuda()), y.cuda()).backward()
        opt.step()
    bare_peak = torch.cuda.max_memory_allocated()
    del bare, opt
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    find_lr(model, loader, loss, device="cuda", steps=len(loader), end_lr=1e-5)
    assert torch.cuda.max_memory_allocated() <= 1.05 * bare_peak


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_on_cuda(amp: str) -> None:
    model, _, loss = tiny.build()
    result = find_lr(model, _pinned_loader(), loss, device="cuda", amp=amp, steps=80)
    assert result.suggested_lr is not None
    if amp == "fp16":
        assert result.history.skipped >= 0


def test_an_unpinned_dataloader_is_swept_from_pinned_memory() -> None:
    model, loader, loss = tiny.build()  # pin_memory=False
    result = find_lr(model, loader, loss, device="cuda", steps=30)
    assert result.history.pinned and not loader.pin_memory
    ours = next(iter(pinned_loader(loader, torch.device("cuda"))[0]))
    assert ours[0].is_pinned()


def test_a_model_build_put_on_the_gpu_is_warned_about() -> None:
    model, _, loss = tiny.build()
    model.cuda()
    result = find_lr(model, _pinned_loader(), loss, device="cuda", steps=30)
    assert any("already on cuda:0" in w for w in result.warnings)
    assert all(p.device.type == "cuda" for p in model.parameters())  # left where build put it

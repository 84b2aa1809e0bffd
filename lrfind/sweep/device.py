"""Choosing the device once, and moving (nested) batches to it."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import torch

from lrfind.errors import UsageError


def resolve_device(name: str | torch.device = "auto", *, python: bool = False) -> torch.device:
    """Turn "auto", "cpu", "cuda", "cuda:N" or "mps" into an available torch.device.

    "auto" picks CUDA, then MPS, then the CPU. Asking for a device that is not
    there is a UsageError, raised before anything is built; it names the
    setting as the CLI spells it (`--device cuda`), or with `python` as
    find_lr takes it (`device='cuda'`).

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(name, torch.device):
        name = str(name)

    def said(value: str) -> str:
        return f"device={value!r}" if python else f"--device {value}"

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise _bad_device(
            f"{said(name)} is not a device: use auto, cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none"
            raise _bad_device(
                f"{said(name)}: CUDA is not available here (torch {torch.__version__}, "
                f"CUDA build: {built}); use {said('cpu')} or {said('auto')}"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise _bad_device(
                f"{said(name)}: there are only {count} CUDA device(s) (cuda:0..cuda:{count - 1})"
            )
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    elif device.type == "mps":
        if not _mps_available():
            raise _bad_device(
                f"{said(name)}: MPS is not available here; use {said('cpu')} or {said('auto')}"
            )
    elif device.type != "cpu":
        raise _bad_device(f"{said(name)}: lrfind supports auto, cpu, cuda, cuda:N and mps")
    return device


def _bad_device(message: str) -> UsageError:
    # Tagged so that a device set in a config file is named by its file and line.
    return UsageError(message, setting="device")


def describe(device: torch.device) -> str:
    """A human label for reports, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def move_to(
    batch: Any, device: torch.device, non_blocking: bool = False, channels_last: bool = False
) -> Any:
    """Move every tensor nested in tuples, lists and dicts to `device`.

    Other values (strings, numbers, None) pass through unchanged; named tuples
    and dict subclasses keep their type where they can be rebuilt. With
    `channels_last`, 4-d floating tensors (image batches) also take that
    memory format, to match a channels-last conv net.
    """
    # Called for every batch: the common cases first, the slow Mapping ABC check last.
    if isinstance(batch, torch.Tensor):
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            return batch.to(device, non_blocking=non_blocking, memory_format=torch.channels_last)
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, tuple | list):
        # Tensors (the usual (inputs, targets) pair) are moved here, without a call each.
        items = [
            v.to(device, non_blocking=non_blocking)
            if isinstance(v, torch.Tensor) and not channels_last
            else move_to(v, device, non_blocking, channels_last)
            for v in batch
        ]
        if isinstance(batch, list):
            return items
        return type(batch)(*items) if hasattr(batch, "_fields") else tuple(items)
    if isinstance(batch, Mapping):
        moved = {k: move_to(v, device, non_blocking, channels_last) for k, v in batch.items()}
        try:
            return type(batch)(moved)
        except TypeError:  # a Mapping whose constructor takes something else
            return moved
    return batch


def pinned_loader(loader: Iterable[Any], device: torch.device) -> tuple[Iterable[Any], bool]:
    """The loader to sweep with, and whether its batches arrive in pinned memory.

    A copy from pinned (page-locked) host memory to a CUDA device runs
    asynchronously with `non_blocking=True`: the host queues the step's work
    while the batch is in flight. A DataLoader built with pin_memory=False is
    swept through a shallow copy with pin_memory=True (with workers, the
    pinning then happens in DataLoader's background thread); the user's loader
    object is left as it was. Other iterables cannot be told to pin and are
    used as they are.

    >>> pinned_loader([1, 2], torch.device("cpu"))
    ([1, 2], False)
    """
    from torch.utils.data import DataLoader

    if device.type != "cuda" or not isinstance(loader, DataLoader):
        return loader, False
    if loader.pin_memory:
        return loader, True
    ours = copy.copy(loader)  # shares the dataset and sampler: the same batches, in order
    ours._iterator = None  # a persistent-workers iterator belongs to the original
    ours.pin_memory = True
    return ours, True


def resident_warning(model: torch.nn.Module, device: torch.device) -> str | None:
    """A warning when `model` already lives on the (accelerator) `device` of the sweep.

    lrfind sweeps a copy and never moves the user's model, so a model that
    build() put on the GPU stays there and the copy is a second one beside it.
    """
    if device.type == "cpu":
        return None
    index = device.index or 0
    tensors = [*model.parameters(), *model.buffers()]
    here = [t for t in tensors if t.device.type == device.type and (t.device.index or 0) == index]
    if not here:
        return None
    mib = sum(t.numel() * t.element_size() for t in here) / 2**20
    return (
        f"the model build returned is already on {device}, so the sweep's copy is a second one "
        f"there (+{mib:.0f} MiB): return the model on the CPU and lrfind moves only its copy"
    )


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())

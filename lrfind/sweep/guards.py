"""Leaving the user's process as we found it: RNG states, grad mode and Ctrl-C (see also
signals)."""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType
from typing import Any

import numpy as np
import torch

from lrfind.sweep import signals
from lrfind.sweep.loaders import samplers_of


@contextmanager
def training() -> Iterator[None]:
    """Autograd on for the block, wherever the sweep is called from: a notebook cell under
    torch.no_grad() or inference_mode() (after an evaluation) would fail at step 1. The
    caller's mode is back after."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


class _Generators:
    """The torch.Generators one seeded block has seeded, and their states before it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._saved: dict[int, tuple[torch.Generator, torch.Tensor]] = {}

    def take(self, loaders: Iterable[Any]) -> None:
        for g in _generators(loaders):
            if id(g) not in self._saved:  # once: train and val loaders may share one
                self._saved[id(g)] = (g, g.get_state())
                g.manual_seed(self.seed)

    def restore(self) -> None:
        for g, state in self._saved.values():
            g.set_state(state)


# The block open now, for the loaders made inside it (see made_seeded).
_open: ContextVar[_Generators | None] = ContextVar("lrfind_seeded", default=None)


@contextmanager
def seeded(seed: int, device: torch.device, loaders: Iterable[Any] = ()) -> Iterator[None]:
    """Seed torch, numpy and random for the block; restore their states after.

    The sweep is then reproducible (same seed, same data order and dropout
    masks), and the caller's own random streams continue as if it never ran.
    A DataLoader shuffling with its own `generator=` (or its sampler's) is
    seeded and restored the same way: its order would otherwise ignore --seed,
    and the sweep would advance the user's generator. So is one made inside the
    block by a `made_seeded` factory.
    """
    generators = _Generators(seed)
    generators.take(loaders)
    token = _open.set(generators)
    try:
        with _seeded(seed, device):
            yield
    finally:
        _open.reset(token)
        generators.restore()


def made_seeded(make: Callable[[], Any]) -> Callable[[], Any]:
    """`make` (a dataloader hook), whose loaders get what `seeded` gives the loaders passed in.

    A loader made on first use in the sweep (a FreshLoader's) does not exist when the block
    opens, so its generator would keep the user's state (advanced by the sweep) and ignore
    --seed; made inside a block, it is seeded and then put back when that block ends.
    """

    def seeded_make() -> Any:
        loader = make()
        block = _open.get()
        if block is not None:
            block.take([loader])
        return loader

    return seeded_make


def _generators(loaders: Iterable[Any]) -> list[torch.Generator]:
    found: dict[int, torch.Generator] = {}
    for loader in loaders:
        # A bucketing batch sampler may shuffle with its own generator, as a sampler may.
        for obj in (loader, *samplers_of(loader)):
            g = getattr(obj, "generator", None)
            if isinstance(g, torch.Generator):
                found[id(g)] = g
    return list(found.values())


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    py_state = random.getstate()
    np_state = np.random.get_state()
    # torch.manual_seed reseeds every CUDA device, so every initialised one is saved.
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    if device.type == "cuda" and not cuda:
        cuda = [device.index or 0]
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn the first Ctrl-C into a polite request to stop; yield a poll function.

    The sweep polls it once per step, so it ends at a step boundary with its
    history intact. A second Ctrl-C raises KeyboardInterrupt as usual. Outside
    the main thread signals cannot be caught, and the poll is always False.
    """
    guard = signals.active()
    if guard is not None:  # `lrfind run` handles SIGINT, SIGTERM and SIGHUP for the whole command
        with guard.sweeping() as poll:
            yield poll
        return
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)

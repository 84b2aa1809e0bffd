"""build() entrypoints for the torchrun tests: each rank logs its steps, one can fail."""

from __future__ import annotations

import atexit
import importlib.util
import os
import time
from pathlib import Path

import torch
from tiny import build as tiny_build
from torch import nn

_RANK = int(os.environ.get("RANK", "0"))
DIGITS = Path(__file__).parents[2] / "sample_models" / "digits_mlp.py"


def _digits() -> tuple:
    spec = importlib.util.spec_from_file_location("digits_mlp", DIGITS)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build()


def build(
    log_dir: str = "",
    fail_rank: int = -1,
    fail_step: int = 0,
    hang: bool = False,
    digits: bool = False,
) -> dict:
    """tests/assets/tiny.py's build (or, with `digits`, sample_models/digits_mlp.py's),
    with a loss that counts its calls on this rank.

    With `log_dir`, the count (the steps this rank ran) goes to rank-N.txt at
    exit. On rank `fail_rank`, step `fail_step` raises (or, with `hang`, sleeps
    for an hour: a rank that hangs without raising), and writes the time of
    the fault to fault-time.txt.
    """
    model, loader, base_loss = _digits() if digits else tiny_build()
    calls = [0]

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if fail_rank == _RANK and calls[0] == fail_step:
            if log_dir:  # when the fault happened, for the tests' timing
                (Path(log_dir) / "fault-time.txt").write_text(repr(time.time()))
            if hang:
                time.sleep(3600)
            raise RuntimeError(f"bad batch on rank {_RANK} at step {fail_step}")
        return base_loss(out, y)

    if log_dir:
        atexit.register(lambda: (Path(log_dir) / f"rank-{_RANK}.txt").write_text(str(calls[0])))
    return {"model": model, "train_loader": loader, "loss_fn": loss_fn}


def build_fails(fail_rank: int = 1) -> tuple[nn.Module, object, nn.Module]:
    """build() itself raises on one rank (a missing dataset on one node)."""
    if fail_rank == _RANK:
        raise FileNotFoundError(f"no dataset on rank {_RANK}")
    return tiny_build()


class _Head(nn.Module):
    """`body`, and a head that only rank `used_on` applies to its output."""

    def __init__(self, body: nn.Module, used_on: int) -> None:
        super().__init__()
        self.body, self.head, self.used_on = body, nn.Linear(1, 1), used_on

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return self.head(out) if self.used_on == _RANK else out


def with_head(used_on: int = -1) -> dict:
    """build() with one more layer, used on rank `used_on` only (-1: on none, left unused)."""
    task = build()
    task["model"] = _Head(task["model"], used_on)
    return task

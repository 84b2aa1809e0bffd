"""The speed benchmark measures what it says: its floor does the sweep's work, its tables render."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from lrfind import find_lr

from .assets import tiny

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from bare_loop import bare_loop  # noqa: E402
from table import tables  # noqa: E402


@pytest.mark.parametrize("feature", [{}, {"accumulate": 2}, {"amp": "bf16"}])
def test_the_floor_trains_exactly_like_the_sweep(feature: dict[str, Any]) -> None:
    # The same seed, model, batches and LRs: a per-step ratio between the two is
    # then lrfind's overhead and nothing else.
    model, loader, loss = tiny.build()
    result = find_lr(model, loader, loss, steps=60, **feature)
    torch.manual_seed(0)  # as find_lr seeds its sweep
    floor = bare_loop(model, loader, loss, None, torch.device("cpu"), result.history.lrs, feature)
    assert result.stop_reason == "diverged"
    assert floor["losses"] == result.history.losses


def test_the_stored_results_render_as_tables() -> None:
    results = json.loads((BENCHMARKS / "results" / "speed-cpu.json").read_text())
    text = tables(results)
    for name in ("digits_mlp", "resnet_cnn", "char_transformer"):
        assert text.count(f"| {name} |") >= 4  # loop, whole call, process, memory
    assert "lrfind adds" in text and "`lrfind --help` imports | [] |" in text

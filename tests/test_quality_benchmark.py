"""The quality benchmark's replay is lrfind's own computation; its stored results render."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lrfind import find_lr

from .assets import tiny

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from quality import score  # noqa: E402
from quality_replay import cut  # noqa: E402
from quality_table import tables  # noqa: E402


@pytest.mark.parametrize("steps", [40, 60])
def test_replaying_a_full_sweep_gives_lrfinds_own_result(steps: int) -> None:
    # A sweep run past divergence, cut offline by lrfind 0.1's rule (what this 9-task
    # benchmark replays), stops where lrfind's own sweep stops under that rule
    # (--diverge-threshold 4). Its suggestions are lrfind 0.1's: lrfind now reads the robust
    # curve (the 39-task suite's replay of the new default is tests/test_robust_replay.py).
    model, loader, loss = tiny.build()
    normal = find_lr(model, loader, loss, steps=steps, diverge_threshold=4.0)
    full = find_lr(model, loader, loss, steps=steps, diverge_threshold=1e30)
    assert full.steps_run > normal.steps_run  # it did run on past the stop point
    xs, ys, stop = cut(full.history.lrs, full.history.losses, steps)
    assert (xs, stop) == (normal.history.lrs, normal.stop_reason)
    assert ys == normal.history.losses


def test_a_run_worse_than_its_start_scores_its_start() -> None:
    assert score(0.2, 1.0) == 0.2
    assert score(3.0, 1.0) == 1.0
    assert score(float("nan"), 1.0) == 1.0


def test_the_stored_results_render_as_tables() -> None:
    results = json.loads((BENCHMARKS / "results" / "quality.json").read_text())
    text = tables(results)
    for task in results["tasks"]:
        assert text.count(f"| {task} |") == 2  # the task table and the per-task scores
    for method in ("min_div_10", "steepest", "valley", "torch_lr_finder"):
        assert f"| {method} |" in text
    assert "| default |" in text and "| stated confidence |" in text

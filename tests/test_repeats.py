"""--repeats: R seeded sweeps, the median suggestion, its spread, the band on the plot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lrfind import find_lr, plot_result
from lrfind.cli import app
from lrfind.core.history import History
from lrfind.core.repeats import RepeatRun, Repeats, median_lr, spread_decades
from lrfind.output.plot_repeats import band

from .assets import tiny
from .conftest import TINY

FAST = {"steps": 30, "device": "cpu"}


def test_median_and_spread_exact() -> None:
    assert median_lr([1e-2, 1e-4, 1e-3]) == 1e-3  # the middle repeat's own LR
    assert median_lr([1e-3, 1e-1]) == pytest.approx(1e-2)  # geometric mean of the middle two
    assert median_lr([None, 0.5, None]) == 0.5 and median_lr([None]) is None
    assert spread_decades([1e-3, 1e-1, None]) == (2.0, 1.0)
    assert spread_decades([0.2, 0.2]) == (0.0, 0.0) and spread_decades([None]) is None


def _repeats(
    lrs: list[float | None],
    min_losses: list[float | None] | None = None,
    min_lrs: list[float | None] | None = None,
) -> Repeats:
    n = len(lrs)
    min_losses = min_losses or [None] * n
    min_lrs = min_lrs or [None if lr is None else 5 * lr for lr in lrs]
    h = History(lrs=[], losses=[], smoothed=[], stop_reason="diverged")
    runs = [
        RepeatRun(i, lr, {"robust": lr}, h, min_loss=m, min_lr=at)
        for i, (lr, m, at) in enumerate(zip(lrs, min_losses, min_lrs, strict=True))
    ]
    spread = spread_decades(lrs)
    return Repeats(runs, median_lr(lrs), *(spread or (None, None)), shown=0)


def test_stability_lines() -> None:
    stable = _repeats([0.1, 0.15, 0.12])
    assert stable.stable is True
    assert stable.stability() == "Stable: 3 repeats within 0.18 decades (0.1 to 0.15, median 0.12)"
    unstable = _repeats([0.01, 0.1, None])
    assert unstable.stable is False
    line = unstable.stability()
    assert line.startswith(
        "Unstable: 2 repeats spread over 1.00 decades (0.01 to 0.1, median 0.0316"
    )
    assert "1 of 3 gave no suggestion" in line and "--val-batches" in line
    assert _repeats([0.1, None]).stable is None
    assert _repeats([0.1, None]).stability().startswith("Stability unknown: only 1 of 2")


def test_unstable_advice_points_to_the_repeat_whose_curve_fell_furthest() -> None:
    # Seed 1's curve reached the lowest loss and its suggestion (0.1) lies below every
    # repeat's minimum LR (0.5, 0.5, 0.2): the advice is the upper end, not the lower one.
    rep = _repeats([0.01, 0.1, 0.02], min_losses=[0.9, 0.3, 0.8], min_lrs=[0.5, 0.5, 0.2])
    assert rep.preferred() == (0.1, 1)
    assert "prefer 0.1 (seed 1: its curve fell furthest" in rep.stability()
    assert rep.to_dict()["preferred_lr"] == 0.1


def test_unstable_advice_stays_below_every_repeats_minimum() -> None:
    # Seed 1 fell furthest, but seed 2's loss is already at its minimum at 0.08 < 0.1: some
    # data order blows up there. The highest suggestion below 0.08 is seed 2's own 0.02.
    rep = _repeats([0.01, 0.1, 0.02], min_losses=[0.9, 0.3, 0.8], min_lrs=[0.5, 0.5, 0.08])
    assert rep.preferred() == (0.02, 2)
    # No suggestion below every minimum: the lowest one.
    rep = _repeats([0.05, 0.1], min_losses=[0.5, 0.3], min_lrs=[0.04, 0.5])
    assert rep.preferred() == (0.05, 0)
    assert _repeats([None, None]).preferred() is None


def test_band_exact() -> None:
    nan = float("nan")
    assert band([[3.0, 2.0, 1.0], [4.0, nan, 0.5], [5.0]]) == ([0, 2], [3.0, 0.5], [5.0, 1.0])


def test_each_repeat_is_a_fresh_seeded_sweep() -> None:
    model, loader, loss = tiny.build()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = find_lr(model, loader, loss, repeats=3, seed=5, **FAST)
    rep = result.repeats
    assert rep is not None and rep.seeds == [5, 6, 7]
    # Each repeat is exactly the single sweep with its seed: the same fresh copy
    # of the untouched model, the data order of that seed.
    for run in rep.runs:
        alone = find_lr(model, loader, loss, seed=run.seed, **FAST)
        assert run.history.losses == alone.history.losses
        assert run.suggested_lr == alone.suggested_lr
    assert rep.runs[0].history.losses != rep.runs[1].history.losses  # another data order
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert result.suggested_lr == median_lr(rep.lrs)
    assert result.history is rep.runs[rep.shown].history
    assert result.config.seed == 5 and result.config.repeats == 3


def test_repeats_one_is_a_plain_sweep() -> None:
    result = find_lr(*tiny.build(), **FAST)
    assert result.repeats is None


def test_plot_shows_every_repeat_and_the_band() -> None:
    result = find_lr(*tiny.build(), repeats=3, **FAST)
    ax = plot_result(result).axes[0]
    assert len([line for line in ax.get_lines() if line.get_gid() == "repeat"]) == 3
    assert [c.get_gid() for c in ax.collections].count("repeats-band") == 1
    labels = [line.get_label() for line in ax.get_lines()]
    assert f"median suggested (robust): lr {result.suggested_lr:.2g}" in labels
    marks = [line for line in ax.get_lines() if line.get_gid() == "repeat-lr"]
    assert len(marks) == sum(lr is not None for lr in result.repeats.lrs)  # type: ignore[union-attr]
    assert [m.get_label() for m in marks][:1] == ["each repeat's suggestion"]  # in the legend


def test_cli_repeats_report_and_stability_line(tmp_path: Path) -> None:
    args = ["run", f"{TINY}:build", "--steps", "30", "--repeats", "3", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    rep = report["repeats"]
    assert rep["count"] == 3 and rep["seeds"] == [0, 1, 2] and len(rep["runs"]) == 3
    assert report["suggested_lr"] == rep["median_lr"] == median_lr(rep["suggested_lrs"])
    assert all(len(r["history"]["lr"]) == r["steps_run"] for r in rep["runs"])
    assert report["config"]["repeats"] == 3
    line = rep["stability"]
    assert line.startswith(("Stable: 3 repeats", "Unstable: 3 repeats"))
    assert line in result.stdout.splitlines()
    assert (tmp_path / "lr_finder.png").read_bytes().startswith(b"\x89PNG")


def test_repeats_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'spec = "{TINY}:build"\n[sweep]\nsteps = 20\nrepeats = 2\n')
    result = CliRunner().invoke(
        app, ["run", "-c", str(config), "--no-plot", "--json", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["repeats"]["count"] == 2


@pytest.mark.parametrize("value", ["0", "101"])
def test_bad_repeats_is_a_usage_error(value: str) -> None:
    result = CliRunner().invoke(app, ["run", f"{TINY}:build", "--repeats", value])
    assert result.exit_code == 2
    assert "--repeats" in result.stderr and "from 1 to 100" in result.stderr


def test_ctrl_c_in_a_repeat_ends_them_all() -> None:
    import os
    import signal

    seen: list[int] = []

    def progress(step: int, total: int) -> None:
        seen.append(step)
        if step == 35:  # step 5 of the second repeat (30 steps each, one bar of 90)
            os.kill(os.getpid(), signal.SIGINT)

    model, loader, loss = tiny.build()
    result = find_lr(
        model, loader, loss, repeats=3, progress=progress, diverge_threshold=1e9, **FAST
    )
    assert seen == list(range(1, 36))  # the third repeat never started
    # The first repeat finished: it is kept, and it is the result (not the 5 cut-short steps).
    alone = find_lr(model, loader, loss, diverge_threshold=1e9, **FAST)
    assert result.stop_reason != "interrupted" and result.steps_run == alone.steps_run
    assert result.repeats is not None and result.repeats.seeds == [0]
    assert result.suggested_lr == alone.suggested_lr and result.config.repeats == 3
    assert result.warnings[-1] == "interrupted in repeat 2 of 3: the result is the 1 that finished"
    assert result.repeats.stability() == (
        "Stability unknown: only 1 repeat finished before the interrupt"
    )
    # Ctrl-C in the first repeat: nothing finished, the cut-short sweep is the result.
    seen.clear()
    first = find_lr(
        model,
        loader,
        loss,
        repeats=3,
        progress=lambda s, t: progress(s + 30, t),
        diverge_threshold=1e9,
        **FAST,
    )
    assert first.stop_reason == "interrupted" and first.steps_run == 5
    assert first.repeats is None and "interrupted in repeat 1 of 3" in first.warnings


def test_a_failure_in_a_later_repeat_keeps_the_ones_that_finished() -> None:
    from torch import nn

    from lrfind import SweepError

    calls = [0]

    class FailsLater(nn.Module):  # raises on the 35th forward of all its copies together
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

        def forward(self, x):  # type: ignore[no-untyped-def]
            calls[0] += 1
            if calls[0] == 35:
                raise RuntimeError("flaky")
            return self.net(x)

    _, loader, loss = tiny.build()
    model = FailsLater()
    with pytest.raises(SweepError) as caught:
        find_lr(model, loader, loss, repeats=3, diverge_threshold=1e9, **FAST)
    assert str(caught.value).startswith("repeat 2 of 3, step 5/30")
    kept = caught.value.finished
    assert kept is not None and kept.repeats.seeds == [0]
    calls[0] = -(10**9)  # never fails again: the first repeat alone, for comparison
    alone = find_lr(model, loader, loss, diverge_threshold=1e9, **FAST)
    assert kept.suggested_lr == alone.suggested_lr
    assert kept.warnings[-1] == (
        "repeat 2 of 3 failed: the result is the 1 that finished before it"
    )

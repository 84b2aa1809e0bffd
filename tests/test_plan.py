"""Schedules from the sweep (lrfind/plan.py): exact bounds, real torch schedulers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.core.plan import MAX_DIV, MIN_DIV, fall_bounds, plan

from .conftest import TINY

# A curve on a plateau at 10 (first 10% of the points), falling from LR 1e-3
# to a minimum of 2 at LR 1, then blowing up.
LRS = [10.0 ** (k - 6) for k in range(9)]  # 1e-6 ... 1e2
LOSS = [10.0, 10.0, 10.0, 9.0, 6.0, 2.3, 2.0, 5.0, 50.0]


def test_fall_bounds_exact() -> None:
    # drop = 10 - 2 = 8; falling starts at <= 9.6 (lr 1e-3), stops at <= 2.4 (lr 1e-1)
    assert fall_bounds(LRS, LOSS) == (1e-3, 1e-1)


def test_cyclic_low_end_is_at_least_3x_below_its_peak() -> None:
    # The loss starts to fall at 1e-3, only 2x below a suggestion of 2e-3: base_lr = 2e-3 / 3.
    p = plan(LRS, LOSS, suggested_lr=2e-3, total_steps=200)
    assert p is not None and p.base_lr == 1e-3
    assert p.schedules["cyclic"].kwargs["base_lr"] == 0.000667  # 2e-3 / 3, to 3 digits
    assert p.schedules["cyclic"].kwargs["max_lr"] == 2e-3


def test_fall_bounds_none_when_the_loss_never_falls() -> None:
    assert fall_bounds(LRS, [1.0] * 9) is None
    assert fall_bounds(LRS, [float(i) for i in range(9)]) is None
    assert fall_bounds([1e-3, 1e-2], [2.0, 1.0]) is None  # too few points


def test_a_one_point_fall_is_not_printed_as_a_range() -> None:
    """ "the loss falls from lr 0.00162 to 0.00162" read as a range of one LR."""
    from types import SimpleNamespace

    from lrfind.output.terminal import plan_lines

    def lines(bounds: tuple[float, float]) -> str:
        got = plan([1e-3, 1e-2], [1.0, 0.5], 1e-3, 100, bounds)
        fake = SimpleNamespace(refinement=None, training=None, repeats=None,
                               schedules=lambda: got)  # fmt: skip
        return plan_lines(fake)[0]  # type: ignore[arg-type]

    assert "(the loss falls at lr 0.00162 alone; snippets" in lines((0.00162, 0.00162))
    assert "(the loss falls from lr 0.0001 to 0.00162; snippets" in lines((1e-4, 0.00162))


def test_plan_kwargs_exact() -> None:
    p = plan(LRS, LOSS, suggested_lr=0.05, total_steps=200)
    assert p is not None and (p.base_lr, p.max_lr, p.peak_lr) == (1e-3, 1e-1, 0.05)
    s = p.schedules
    assert s["one_cycle"].kwargs == {
        "max_lr": 0.05,
        "total_steps": 200,
        "div_factor": 50.0,  # 0.05 / 1e-3: the warm-up starts where the loss starts to fall
        "final_div_factor": 1e4,
        "pct_start": 0.3,
    }
    assert s["cyclic"].kwargs == {
        "base_lr": 1e-3,
        "max_lr": 0.05,  # the peak, not the minimum (0.1): the edge of divergence
        "step_size_up": 25,  # 4 triangles over 200 steps
        "mode": "triangular",
        "cycle_momentum": False,
    }
    assert s["warmup_cosine"].kwargs == {
        "peak_lr": 0.05,
        "warmup_steps": 10,
        "LinearLR": {"start_factor": 0.02, "end_factor": 1.0, "total_iters": 10},
        "CosineAnnealingLR": {"T_max": 190},
        "SequentialLR": {"milestones": [10]},
    }


@pytest.mark.parametrize(("suggested", "div"), [(2e-3, MIN_DIV), (50.0, MAX_DIV)])
def test_warmup_start_is_clamped(suggested: float, div: float) -> None:
    p = plan(LRS, LOSS, suggested_lr=suggested)
    assert p is not None and p.schedules["one_cycle"].kwargs["div_factor"] == div
    assert p.schedules["warmup_cosine"].kwargs["LinearLR"]["start_factor"] == 1 / div


def test_no_plan_without_a_suggestion() -> None:
    assert plan(LRS, LOSS, suggested_lr=None) is None
    assert plan(LRS, [1.0] * 9, suggested_lr=0.1) is None


def _optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr, momentum=0.9)


def _built(name: str, kwargs: dict, opt: torch.optim.Optimizer) -> object:
    """The scheduler built from the report's kwargs, as a user would."""
    from torch.optim import lr_scheduler as sch

    if name == "one_cycle":
        return sch.OneCycleLR(opt, **kwargs)
    if name == "cyclic":
        return sch.CyclicLR(opt, **kwargs)
    for group in opt.param_groups:
        group["lr"] = kwargs["peak_lr"]
    warm = sch.LinearLR(opt, **kwargs["LinearLR"])
    cosine = sch.CosineAnnealingLR(opt, **kwargs["CosineAnnealingLR"])
    return sch.SequentialLR(opt, [warm, cosine], **kwargs["SequentialLR"])


def _lrs(scheduler: object, optimizer: torch.optim.Optimizer, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
    return out


def test_kwargs_build_the_real_schedulers() -> None:
    p = plan(LRS, LOSS, suggested_lr=0.05, total_steps=200)
    assert p is not None
    kwargs = {name: s.kwargs for name, s in p.schedules.items()}
    opt = _optimizer()
    lrs = _lrs(_built("one_cycle", kwargs["one_cycle"], opt), opt, 200)
    assert lrs[0] == pytest.approx(0.05 / 50) and max(lrs) == pytest.approx(0.05)
    assert lrs[-1] == pytest.approx(0.05 / 50 / 1e4, rel=1e-2)

    opt = _optimizer()
    lrs = _lrs(_built("cyclic", kwargs["cyclic"], opt), opt, 51)
    assert lrs[0] == pytest.approx(1e-3) and lrs[25] == pytest.approx(0.05)
    assert lrs[50] == pytest.approx(1e-3)

    opt = _optimizer()
    lrs = _lrs(_built("warmup_cosine", kwargs["warmup_cosine"], opt), opt, 200)
    assert lrs[0] == pytest.approx(0.05 * 0.02) and lrs[10] == pytest.approx(0.05)
    assert max(lrs) == pytest.approx(0.05) and lrs[-1] < 0.05 * 1e-3


@pytest.mark.parametrize("name", ["one_cycle", "cyclic", "warmup_cosine"])
def test_snippet_runs_and_gives_the_kwargs_schedule(name: str) -> None:
    p = plan(LRS, LOSS, suggested_lr=0.05, total_steps=200)
    assert p is not None
    schedule = p.schedules[name]
    namespace: dict[str, object] = {"optimizer": _optimizer()}
    exec(compile(schedule.snippet, "<snippet>", "exec"), namespace)  # as pasted into a script
    scheduler = namespace["scheduler"]
    assert f"torch.optim.lr_scheduler.{type(scheduler).__name__}" == schedule.cls
    from_snippet = _lrs(scheduler, namespace["optimizer"], 200)  # type: ignore[arg-type]
    opt = _optimizer()
    assert from_snippet == _lrs(_built(name, schedule.kwargs, opt), opt, 200)


def test_plan_modules_do_not_import_torch() -> None:
    code = (
        "import sys, lrfind.core.plan, lrfind.core.priors, lrfind.core.repeats; "
        "print(any(m in sys.modules for m in ('torch', 'numpy', 'matplotlib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_prints_schedules_and_reports_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", f"{TINY}:build", "--steps", "60", "--no-plot", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    schedules = report["schedules"]
    assert schedules["one_cycle"]["kwargs"]["max_lr"] == float(f"{report['suggested_lr']:.3g}")
    assert schedules["cyclic"]["kwargs"]["base_lr"] < schedules["cyclic"]["kwargs"]["max_lr"]
    lines = result.stdout.splitlines()
    assert any(line.startswith("  one-cycle      OneCycleLR(optimizer, max_lr=") for line in lines)
    assert any("CyclicLR(optimizer, base_lr=" in line for line in lines)
    assert any("SequentialLR(optimizer, schedulers=[LinearLR(" in line for line in lines)
    assert lines[-1].startswith("Suggested learning rate:")

"""--val-batches K: the loss after each step on K fixed validation batches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lrfind import Task, UsageError, find_lr
from lrfind.cli import app

from .assets import tiny
from .conftest import TINY


class Spy:
    """A step_fn that records, for each call, the batch tag, the mode and the loss."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool, bool, float]] = []

    def __call__(self, model: torch.nn.Module, batch: dict) -> torch.Tensor:
        loss = ((model(batch["x"]) - batch["y"]) ** 2).mean()
        tag = int(batch["tag"][0])
        self.calls.append((tag, model.training, torch.is_grad_enabled(), loss.item()))
        return loss


def _batches(n: int, first_tag: int) -> list[dict]:
    g = torch.Generator().manual_seed(first_tag)
    return [
        {"x": torch.randn(4, 4, generator=g), "y": torch.randn(4, 1, generator=g),
         "tag": torch.full((4,), first_tag + i)}
        for i in range(n)
    ]  # fmt: skip


def test_loss_is_the_mean_over_the_same_k_batches_each_step() -> None:
    spy = Spy()
    # Validation batches tagged 100..104, served in a new random order each pass.
    val = torch.utils.data.DataLoader(_batches(5, 100), batch_size=None, shuffle=True)
    task = Task(torch.nn.Linear(4, 1), _batches(3, 0), val_loader=val, step_fn=spy)
    result = find_lr(task, steps=6, end_lr=1e-2, device="cpu", val_batches=2)
    assert result.loss_source == "validation (2 batches)" and result.steps_run == 6
    train = [c for c in spy.calls if c[0] < 100]
    evals = [c for c in spy.calls if c[0] >= 100]
    assert len(train) == 6 and len(evals) == 12  # one train batch, two val batches per step
    assert all(training and grad for _, training, grad, _ in train)
    assert not any(training or grad for _, training, grad, _ in evals)  # eval mode, no grad
    fixed = [tag for tag, *_ in evals[:2]]
    assert [tag for tag, *_ in evals] == fixed * 6  # the same two batches every step
    means = [(evals[2 * i][3] + evals[2 * i + 1][3]) / 2 for i in range(6)]
    assert result.history.losses == pytest.approx(means, rel=1e-6)


def test_without_k_the_whole_val_loader_is_used() -> None:
    spy = Spy()
    task = Task(torch.nn.Linear(4, 1), _batches(3, 0), val_loader=_batches(5, 100), step_fn=spy)
    result = find_lr(task, steps=6, end_lr=1e-2, device="cpu")
    assert result.loss_source == "validation"
    assert len([c for c in spy.calls if c[0] >= 100]) == 30


def test_k_without_val_loader_is_an_error() -> None:
    with pytest.raises(UsageError, match="--val-batches 2 needs a validation loader"):
        find_lr(*tiny.build(), steps=6, device="cpu", val_batches=2)


def test_cli_val_batches(tmp_path: Path) -> None:
    args = ["run", f"{TINY}:build_val", "--steps", "20", "--val-batches", "1", "--no-plot"]
    result = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["loss_source"] == "validation (1 batch)"
    assert report["config"]["val_batches"] == 1


@pytest.mark.parametrize(
    ("spec", "k", "message"),
    [
        ("build", "2", "needs a validation loader, and build() returned none"),
        ("build_val", "3", "val_loader has only 2 batches, fewer than --val-batches 3"),
        ("build_val", "0", "must be an integer >= 1"),
        ("build_val_empty", "2", "val_loader yields no batches"),
    ],
)
def test_cli_val_batches_errors(tmp_path: Path, spec: str, k: str, message: str) -> None:
    args = ["run", f"{TINY}:{spec}", "--steps", "6", "--val-batches", k, "--no-plot"]
    result = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_sample_with_val_loader(tmp_path: Path) -> None:
    spec = f"{Path(__file__).parents[1]}/sample_models/digits_mlp.py:build_with_val"
    args = ["run", spec, "--steps", "10", "--val-batches", "2", "--no-plot", "--json"]
    result = CliRunner().invoke(app, [*args, "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loss_source"] == "validation (2 batches)"

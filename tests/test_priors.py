"""Sanity priors (lrfind/priors.py): the distance in decades and when it warns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from lrfind import find_lr
from lrfind.cli import app
from lrfind.core.priors import ADAM, SGD, decades_away, prior_dict, prior_for, prior_warnings

from .assets import tiny
from .conftest import TINY


def test_families() -> None:
    assert prior_for("SGD") is SGD
    assert prior_for("AdamW") is ADAM and prior_for("Adam") is ADAM
    assert prior_for("Adagrad") is None  # no widely agreed range: no prior, no warning
    assert (SGD.low, SGD.high, ADAM.low, ADAM.high) == (1e-2, 1e-1, 1e-4, 3e-3)


@pytest.mark.parametrize(
    ("lr", "away"), [(0.05, 0.0), (1e-2, 0.0), (1.0, 1.0), (100.0, 3.0), (1e-4, 2.0), (1e-6, 4.0)]
)
def test_decades_away_exact(lr: float, away: float) -> None:
    assert decades_away(lr, SGD) == pytest.approx(away)


def test_warns_only_beyond_two_decades() -> None:
    assert prior_warnings(10.0, "SGD") == []  # exactly two decades above 0.1
    assert prior_warnings(1e-4, "SGD") == []  # exactly two decades below 1e-2
    assert prior_warnings(None, "SGD") == [] and prior_warnings(1e-9, "Adagrad") == []
    (above,) = prior_warnings(0.5, "AdamW")
    assert "2.2 decades above the usual 0.0001-0.003 for Adam/AdamW (AdamW)" in above
    assert "pretrained (fine-tuning)" in above and "too high" in above
    (below,) = prior_warnings(1e-5, "SGD")
    assert "3.0 decades below" in below and "pretrained" not in below


def test_report_prior_entry() -> None:
    assert prior_dict(0.5, "AdamW") == {
        "optimizer": "AdamW",
        "family": "adam",
        "low": 1e-4,
        "high": 3e-3,
        "decades_away": 2.222,
    }
    assert prior_dict(0.5, "Rprop") is None


def test_find_lr_warns_for_a_suggestion_far_from_the_prior() -> None:
    # Adam swept over 1e-9..1e-6 can only suggest LRs far below its usual 1e-4.
    model, loader, loss = tiny.build()
    result = find_lr(
        model, loader, loss, optimizer=torch.optim.Adam, steps=30, start_lr=1e-9, end_lr=1e-6
    )
    assert result.optimizer == "Adam" and result.suggested_lr is not None
    assert result.suggested_lr < 1e-6
    assert any("decades below the usual 0.0001-0.003" in w for w in result.warnings)


def test_cli_prior_warning_on_stderr(tmp_path: Path) -> None:
    args = ["run", f"{TINY}:build", "--steps", "30", "--start-lr", "1e-9", "--end-lr", "1e-6"]
    args += ["--optimizer", "adam", "--no-plot", "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Warning: the suggested lr" in result.stderr
    assert "decades below the usual" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["prior"]["optimizer"] == "Adam" and report["prior"]["decades_away"] > 2
    assert any("decades below the usual" in w for w in report["warnings"])

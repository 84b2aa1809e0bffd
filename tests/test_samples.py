"""The sample models run end to end through the CLI and give a real curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

ROOT = Path(__file__).parents[1]


# The libraries the training-stack samples import (in the dev extra).
NEEDS = {"hf_trainer": "transformers", "lightning_module": "lightning"}


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("digits_mlp", "100"),
        ("char_transformer", "100"),
        ("resnet_cnn", "60"),
        ("hf_trainer", "100"),
        ("lightning_module", "100"),
    ],
)
def test_sample_model_sweeps_to_divergence(name: str, steps: str, tmp_path: Path) -> None:
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{NEEDS[name]} is in the dev extra")
    spec = f"{ROOT / 'sample_models' / name}.py:build"
    result = CliRunner().invoke(
        app, ["run", spec, "--steps", steps, "--no-plot", "--json", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["stop_reason"] == "diverged"
    history = report["history"]["smoothed_loss"]
    assert min(history) < 0.9 * history[0]  # the loss really fell before it blew up
    assert 1e-6 < report["suggested_lr"] < 1.0


@pytest.mark.parametrize(
    "name", ["digits_mlp", "resnet_cnn", "char_transformer", "hf_trainer", "lightning_module"]
)
def test_each_sample_has_a_config(name: str) -> None:
    text = (ROOT / "configs" / f"{name}.toml").read_text()
    assert f'spec = "sample_models/{name}.py:build"' in text
    assert text.startswith("#") and "Override:" in text

"""Determinism, provenance and what lrfind may touch on disk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app

from .conftest import TINY

LRFIND = Path(__file__).parents[1] / "lrfind"


def _history(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", f"{TINY}:build", "--json", "--no-plot", "--out-dir", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_same_seed_gives_the_identical_history_on_cpu(tmp_path: Path) -> None:
    a = _history(tmp_path, "--seed", "5")
    b = _history(tmp_path, "--seed", "5")
    c = _history(tmp_path, "--seed", "6")
    assert a["history"] == b["history"]  # bitwise: the floats compare exactly
    assert a["history"]["loss"] != c["history"]["loss"]


def test_report_records_seed_versions_and_device(tmp_path: Path) -> None:
    import platform

    import torch

    report = _history(tmp_path, "--seed", "7")
    assert report["config"]["seed"] == 7
    env = report["environment"]
    assert env["torch"] == torch.__version__ and env["python"] == platform.python_version()
    assert env["lrfind"] and env["device"] == "cpu"


def test_files_land_only_in_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(app, ["run", f"{TINY}:build", "--out-dir", "results"])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    assert written == ["results", "results/lr_finder.png", "results/report.json"]


def test_lrfind_runs_and_unpickles_nothing_but_the_spec() -> None:
    """Only spec.py executes code (the user's build file); nothing is unpickled or eval'd."""
    forbidden = re.compile(
        r"\bpickle\b|torch\.load\(|(?<![.\w])eval\(|(?<![.\w])exec\(|os\.system|subprocess|__import__\("
    )
    for path in LRFIND.glob("*.py"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            assert not forbidden.search(line), f"{path.name}:{n}: {line.strip()}"
    spec = (LRFIND / "spec.py").read_text()
    assert "exec_module" in spec and "import_module" in spec  # the one, documented, way in


def test_a_loss_closing_over_the_users_model_leaves_it_without_gradients() -> None:
    # The mistake is named at step 1, and the one backward() that reached the user's model
    # is undone: it has the gradients it had before (none here, the first one's otherwise).
    import torch
    from torch import nn

    from lrfind import find_lr
    from lrfind.errors import SpecError

    from .assets import tiny

    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    _, loader, _ = tiny.build()
    model[0].weight.grad = torch.ones_like(model[0].weight)  # the user's own, kept

    def loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(output, target) + model(torch.zeros(1, 4)).sum() * 0

    with pytest.raises(SpecError, match="the loss used the model build\\(\\) returned"):
        find_lr(model, loader, loss, steps=20)
    assert torch.equal(model[0].weight.grad, torch.ones_like(model[0].weight))
    assert all(p.grad is None for name, p in model.named_parameters() if name != "0.weight")


def test_a_loaders_own_generator_is_seeded_for_the_sweep_and_left_as_it_was() -> None:
    # DataLoader(shuffle=True, generator=g): the order comes from g, not torch's global RNG.
    import torch

    from lrfind import find_lr

    from .assets import tiny

    model, _, loss = tiny.build()
    x, y = tiny._data()
    g = torch.Generator().manual_seed(123)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y.unsqueeze(1)), batch_size=16, shuffle=True, generator=g
    )
    before = g.get_state()
    first = find_lr(model, loader, loss, steps=20, seed=0)
    assert torch.equal(g.get_state(), before)  # the user's generator did not move
    again = find_lr(model, loader, loss, steps=20, seed=0)
    other = find_lr(model, loader, loss, steps=20, seed=1)
    assert first.history.losses == again.history.losses  # reproducible, as with --seed
    assert first.history.losses != other.history.losses  # and the seed reaches the order

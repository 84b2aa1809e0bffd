"""--refine: the probe rule (exact, on made-up probes), lrfind's rule against the benchmark's
on every cached probe set, and the option end to end (CLI, report, show, failures)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from lrfind import find_lr
from lrfind.cli.app import app
from lrfind.core.refinement import Probe, Refinement, refine
from lrfind.errors import SweepError, UsageError
from tests.conftest import ASSETS

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _prober(losses: dict[float, tuple[float, float]], calls: list[float]):
    """probe(lr) from a table offset -> (train, val) around a swept LR of 1.0."""

    def probe(lr: float) -> Probe:
        offset = round(2 * math.log10(lr)) / 2
        calls.append(offset)
        train, val = losses[offset]
        return Probe(lr, train, val, 100)

    return probe


def test_climbs_while_both_losses_fall_and_stops_at_a_decade() -> None:
    calls: list[float] = []
    table = {-0.5: (3.0, 3.0), 0.0: (2.0, 2.0), 0.5: (1.0, 1.5), 1.0: (0.5, 1.0)}
    r = refine(1.0, _prober(table, calls))
    assert r.lr == pytest.approx(10.0) and r.decades == pytest.approx(1.0)
    assert calls == [0.0, -0.5, 0.5, 1.0]  # each LR once; 1.5 decades is never probed
    assert [p.lr for p in r.probes] == pytest.approx([10**-0.5, 1.0, 10**0.5, 10.0])


def test_one_loss_alone_does_not_move_it() -> None:
    table = {-0.5: (3.0, 1.0), 0.0: (2.0, 2.0), 0.5: (1.0, 2.5)}  # lower: val; higher: train
    r = refine(1.0, _prober(table, []))
    assert r.lr == 1.0 and len(r.probes) == 3 and not r.interrupted


def test_two_better_neighbours_the_lower_training_loss_wins() -> None:
    table = {-1.0: (9.0, 9.0), -0.5: (1.0, 1.0), 0.0: (2.0, 2.0), 0.5: (1.5, 0.5), 1.0: (9, 9)}
    assert refine(1.0, _prober(table, [])).lr == pytest.approx(10**-0.5)


def test_a_diverged_probe_never_wins() -> None:
    table = {-0.5: (3.0, 3.0), 0.0: (2.0, 2.0), 0.5: (math.inf, math.inf)}
    assert refine(1.0, _prober(table, [])).lr == 1.0


def test_interrupted_keeps_the_best_lr_probed_so_far() -> None:
    answers = iter([Probe(1.0, 2.0, 2.0, 100), Probe(0.316, 1.0, 1.0, 100), None])
    r = refine(1.0, lambda lr: next(answers))
    assert r.interrupted and r.lr == pytest.approx(10**-0.5) and len(r.probes) == 2  # 0.316 won
    none = refine(1.0, lambda lr: None)
    assert none.interrupted and none.lr == 1.0 and none.probes == []


def test_report_round_trip_keeps_inf_losses() -> None:
    r = Refinement(0.1, 0.316, [Probe(0.1, 1.0, 2.0, 50), Probe(0.316, math.inf, math.inf, 7)])
    saved = json.loads(json.dumps(r.to_dict(), default=str).replace("Infinity", "null"))
    assert Refinement.from_dict(saved) == r
    assert "0.1 -> 0.316 (+0.5 decades)" in r.line()


def test_lrfind_rule_is_the_benchmarks_on_every_cached_probe_set() -> None:
    """lrfind.core.refinement.refine gives quality_probe.py's 'climb both' on all its sweeps
    (the suite, the three holdouts): the shipped rule is the one measured."""
    sys.path.insert(0, str(BENCH))
    import quality_probe as qp

    done = json.loads(qp.PROBES.read_text())
    checked = 0
    for e in done.values():
        if e["s"] is None:
            continue
        s = e["s"]

        def probe(lr: float, e: dict = e, s: float = s) -> Probe:
            d = round(2 * math.log10(lr / s)) / 2
            return Probe(lr, qp.train_metric(e, d), qp.val_metric(e, d), 100)

        ours = refine(s, probe)
        theirs = qp.VARIANTS["climb both (the rule)"](e)
        assert ours.decades == pytest.approx(theirs, abs=1e-9), e
        checked += 1
    assert checked >= 200


def _data() -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, :3].sum(1) > 0).long()
    ds = torch.utils.data.TensorDataset(x, y)
    train, val = torch.utils.data.random_split(ds, [384, 128], generator=g)
    return (torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
            torch.utils.data.DataLoader(val, batch_size=64))  # fmt: skip


def test_find_lr_refine_probes_a_fresh_copy_and_leaves_the_model() -> None:
    train, val = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    before = [p.detach().clone() for p in model.parameters()]
    r = find_lr(model, train, nn.CrossEntropyLoss(), val_loader=val, refine=True, steps=40)
    ref = r.refinement
    assert ref is not None and 3 <= len(ref.probes) <= 5
    assert r.suggested_lr == ref.lr and r.loss_source == "train"  # the sweep read the batches
    assert all(p.steps == 40 for p in ref.probes if math.isfinite(p.train_loss))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    plain = find_lr(model, train, nn.CrossEntropyLoss(), steps=40)
    assert plain.refinement is None and plain.suggested_lr == pytest.approx(ref.swept_lr)
    again = find_lr(model, train, nn.CrossEntropyLoss(), val_loader=val, refine=True, steps=40)
    assert again.refinement == ref  # seeded: the same probes


def test_refine_without_validation_data_is_a_usage_error() -> None:
    train, _ = _data()
    with pytest.raises(UsageError, match="return a val_loader from build"):
        find_lr(nn.Linear(8, 2), train, nn.CrossEntropyLoss(), refine=True)


def test_cli_refine_show_and_json(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["run", f"{ASSETS}/tiny.py:build_val", "--refine", "--out-dir", str(out), "--no-plot"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["refine"]["lr"] == report["suggested_lr"]
    assert report["config"]["refine"] is True and report["loss_source"] == "train"
    assert "Refined by " in result.stdout
    shown = CliRunner().invoke(app, ["show", str(out / "report.json"), "--no-plot"])
    assert shown.exit_code == 0 and shown.stdout == result.stdout
    plain = CliRunner().invoke(app, ["run", f"{ASSETS}/tiny.py:build_val", "--json", "--out-dir",
                                     str(tmp_path / "p"), "--no-plot"])  # fmt: skip
    assert json.loads(plain.stdout)["refine"] is None


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["{A}/tiny.py:build", "--refine"], "there is no validation data"),
    ],
)
def test_cli_refine_bad_input(argv: list[str], needle: str, tmp_path: Path) -> None:
    args = ["run", *(a.replace("{A}", str(ASSETS)) for a in argv), "--out-dir", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and "Traceback" not in result.output
    assert result.stdout == ""


def test_refine_in_a_config_file_must_be_a_bool(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[sweep]\nrefine = 1\n")
    result = CliRunner().invoke(app, ["run", f"{ASSETS}/tiny.py:build_val", "--config", str(cfg),
                                      "--out-dir", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 2 and "refine" in result.stderr, result.output


def test_a_failing_probe_keeps_the_sweep_and_its_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["run", f"{ASSETS}/tiny.py:build_val_fails_late", "--refine", "--out-dir", str(out)]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert "--refine's probe at lr" in result.stderr and "the user's loss broke" in result.stderr
    assert "Traceback" not in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["suggested_lr"] is not None and report["refine"] is None
    assert any("the suggestion is the sweep's own" in w for w in report["warnings"])


def test_refine_under_torchrun_is_refused() -> None:
    from lrfind.config.resolve import resolve
    from lrfind.config.torchrun import TorchrunEnv

    env = TorchrunEnv(rank=0, world_size=2, local_rank=0, launched=True, missing=())
    with pytest.raises(UsageError, match="not under torchrun"):
        resolve(f"{ASSETS}/tiny.py:build_val", {"refine": True}, torchrun=env)


def test_sweep_error_of_a_probe_names_it() -> None:
    from tiny import build_val_fails_late

    parts = build_val_fails_late()
    with pytest.raises(SweepError, match="probe at lr") as caught:
        find_lr(parts["model"], parts["train_loader"], parts["loss_fn"],
                val_loader=parts["val_loader"], refine=True)  # fmt: skip
    assert caught.value.finished is not None and caught.value.finished.suggested_lr is not None


def test_refine_takes_a_lightning_datamodules_validation_data(tmp_path: Path) -> None:
    """A stack's eval data (here a LightningDataModule's val_dataloader, which has no length
    until it is made) judges the probes: each probe evaluates it once, at its end."""
    pytest.importorskip("lightning")
    out = tmp_path / "out"
    argv = ["run", f"{ASSETS}/stacks/pl_datamodule.py:build", "--refine", "--steps", "30",
            "--out-dir", str(out), "--no-plot"]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert len(report["refine"]["probes"]) >= 3
    assert all(p["val_loss"] is not None for p in report["refine"]["probes"])


def test_the_plot_marks_the_refined_and_the_swept_lr() -> None:
    import dataclasses

    from lrfind.output.plot import plot_result

    train, _ = _data()
    torch.manual_seed(0)
    r = find_lr(nn.Linear(8, 2), train, nn.CrossEntropyLoss(), steps=30)
    moved = Refinement(r.suggested_lr, r.suggested_lr * 10**0.5, [])
    name = r.method
    shown = dataclasses.replace(
        r, refinement=moved,
        suggestions={**r.suggestions, name: dataclasses.replace(r.suggestion, lr=moved.lr)},
    )  # fmt: skip
    labels = [t.get_text() for t in plot_result(shown).axes[0].get_legend().get_texts()]
    assert any("refined by probes" in t for t in labels), labels
    assert any(t.startswith("the sweep's own: lr") for t in labels), labels
    plain = [t.get_text() for t in plot_result(r).axes[0].get_legend().get_texts()]
    assert not any("refined" in t or "sweep's own" in t for t in plain), plain


def test_refine_with_val_batches_and_repeats(tmp_path: Path) -> None:
    """--val-batches K limits the probes' judgement to K batches (the sweep itself reads the
    training loss); with --repeats the probes start from the repeats' median."""
    out = tmp_path / "out"
    argv = ["run", f"{ASSETS}/tiny.py:build_val", "--refine", "--val-batches", "1",
            "--repeats", "2", "--out-dir", str(out), "--no-plot"]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["refine"]["swept_lr"] == pytest.approx(report["repeats"]["median_lr"])
    assert report["config"]["val_batches"] == 1 and report["loss_source"] == "train"


def test_ctrl_c_twice_in_find_lr_keeps_the_sweep_and_the_probes_done() -> None:
    """The first Ctrl-C asks the probes to stop; a second one, before the next step polls it,
    raises KeyboardInterrupt inside a probe: find_lr still returns the sweep's result."""
    import os
    import signal

    train, val = _data()
    torch.manual_seed(0)
    model = nn.Linear(8, 2)
    swept = find_lr(model, train, nn.CrossEntropyLoss(), steps=40).steps_run
    at = swept + 40 + 2 + 5  # the sweep, the first probe and its 2 val batches, 5 steps more

    class Interrupting(nn.CrossEntropyLoss):
        calls = 0

        def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            type(self).calls += 1
            if type(self).calls == at:  # inside the second probe, twice within one step
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
            return super().forward(output, target)

    r = find_lr(model, train, Interrupting(), val_loader=val, refine=True, steps=40)
    assert r.refinement is not None and r.refinement.interrupted
    assert r.suggested_lr == r.refinement.lr and len(r.refinement.probes) >= 1
    assert any("interrupted during --refine" in w for w in r.warnings)


def test_interrupted_after_a_neighbour_won_keeps_that_neighbour() -> None:
    def probe(lr: float) -> Probe | None:
        offset = round(2 * math.log10(lr / 0.01)) / 2
        if offset == 0.5:
            return None  # Ctrl-C during the upper neighbour
        train = {0.0: 1.0, -0.5: 0.5}[offset]
        return Probe(lr, train, train, 100)

    r = refine(0.01, probe)
    assert r.interrupted and r.lr == pytest.approx(0.01 * 10**-0.5)


def test_the_line_with_no_probe_and_with_diverged_ones() -> None:
    assert (
        "interrupted in its first probe: kept the sweep's 0.01"
        in Refinement(0.01, 0.01, [], interrupted=True).line()
    )
    r = Refinement(0.01, 0.01, [Probe(0.01, 1.0, 1.0, 100), Probe(0.0316, math.inf, math.inf, 7)])
    assert r.line().startswith("Refined by 2 probes of 100 steps") and "; 1 diverged" in r.line()


def _counting_generator(loader, seen: list[int]):
    for i, batch in enumerate(loader):
        seen.append(i)
        yield batch


def test_a_one_shot_val_loader_is_refused_up_front_unless_val_batches() -> None:
    train, val = _data()
    seen: list[int] = []
    with pytest.raises(UsageError, match="one-shot iterator"):
        find_lr(nn.Linear(8, 2), train, nn.CrossEntropyLoss(), refine=True,
                val_loader=_counting_generator(val, seen))  # fmt: skip
    assert seen == []  # refused before the sweep drew anything
    r = find_lr(nn.Linear(8, 2), train, nn.CrossEntropyLoss(), refine=True, val_batches=1,
                val_loader=_counting_generator(val, seen), steps=30)  # fmt: skip
    assert len(r.refinement.probes) >= 3 and seen == [0]  # one batch, kept for every probe


def test_an_empty_val_loader_is_refused_up_front() -> None:
    from lrfind.errors import SpecError

    train, _ = _data()
    empty = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(0, 8)))
    with pytest.raises(SpecError, match="val_loader yields no batches"):
        find_lr(nn.Linear(8, 2), train, nn.CrossEntropyLoss(), refine=True, val_loader=empty)


@pytest.mark.parametrize(
    ("stack", "fix"),
    [
        (None, "return a val_loader from build()"),
        ("transformers.Trainer", "give the Trainer an eval_dataset"),
        ("LightningModule", "define val_dataloader()"),
    ],
)
def test_no_validation_data_names_the_fix_for_what_build_returned(stack, fix) -> None:
    import dataclasses
    from types import SimpleNamespace

    from lrfind import Task
    from lrfind.config.settings import SweepConfig
    from lrfind.sweep.probe import sweep_part

    train, _ = _data()
    task = Task(model=nn.Linear(8, 2), train_loader=train, loss_fn=nn.CrossEntropyLoss())
    if stack is not None:
        task = dataclasses.replace(task, stack=SimpleNamespace(name=stack))
    with pytest.raises(UsageError, match=fix):
        sweep_part(task, SweepConfig(refine=True))


def test_a_suggestion_whose_own_probe_diverged_says_so() -> None:
    train, val = _data()
    torch.manual_seed(0)
    model = nn.Linear(8, 2)
    swept = find_lr(model, train, nn.CrossEntropyLoss(), steps=30).steps_run

    class NanAfterTheSweep(nn.CrossEntropyLoss):
        calls = 0

        def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            type(self).calls += 1
            loss = super().forward(output, target)
            return loss * math.nan if type(self).calls > swept else loss

    r = find_lr(model, train, NanAfterTheSweep(), val_loader=val, refine=True, steps=30)
    assert r.suggested_lr == r.refinement.swept_lr and len(r.refinement.diverged) == 3
    assert any("the loss turned non-finite after 1 of 30 steps" in w for w in r.warnings)


def test_compare_names_refine_when_it_differs(tmp_path: Path) -> None:
    runs = {}
    for name, extra in (("plain", []), ("refined", ["--refine"])):
        out = tmp_path / name
        args = ["run", f"{ASSETS}/tiny.py:build_val", *extra, "--out-dir", str(out), "--no-plot"]
        assert CliRunner().invoke(app, args).exit_code == 0
        runs[name] = str(out / "report.json")
    result = CliRunner().invoke(app, ["compare", runs["plain"], runs["refined"]])
    assert "refine False vs True" in result.output, result.output


def test_the_progress_bar_names_the_probes() -> None:
    import io

    from rich.console import Console

    from lrfind.cli.console import progress_bar

    bar = progress_bar(Console(file=io.StringIO(), force_terminal=True), enabled=True)
    update = bar.__enter__()
    try:
        names = []
        for _ in range(3):
            update(1, 10)
            names.append(bar.bar.tasks[0].description)
            update(10, 10)
    finally:
        bar.__exit__(None, None, None)
    assert names == ["sweeping", "--refine probe 1", "--refine probe 2"]

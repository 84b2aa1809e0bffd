"""`lrfind diagnose`: each class on a constructed curve, the borderlines, the loaders, the CLI."""

from __future__ import annotations

import itertools
import json
import math
import random
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.errors import UsageError
from lrfind.tools.diagnose import Thresholds, diagnose
from lrfind.tools.figures import diagnosis_figure
from lrfind.tools.loss_math import window_means
from lrfind.tools.losses import LossLog, load_losses

from .test_cli import _modules_after

runner = CliRunner()


def _log(train: list[float], val: list[float] | None = None) -> LossLog:
    return LossLog([float(i + 1) for i in range(len(train))], "epoch", train, val)


HEALTHY = [2.3 * math.exp(-i / 8) + 0.2 for i in range(30)]
CURVES = {
    "healthy": _log(HEALTHY, [v + 0.05 for v in HEALTHY]),
    "diverging": _log(
        [2.3 * math.exp(-i / 5) + 0.2 if i < 15 else 0.3 * (i - 13) for i in range(30)]
    ),
    "stuck": _log([2.30 - 0.001 * i for i in range(30)]),
    "oscillating": _log([2.0 - 0.04 * i + 0.3 * (-1) ** i for i in range(30)]),
    "overfitting": _log(HEALTHY, [v + 0.1 + 0.05 * max(0, i - 12) for i, v in enumerate(HEALTHY)]),
}


@pytest.mark.parametrize("kind", list(CURVES))
def test_each_class_on_its_constructed_curve(kind: str) -> None:
    d = diagnose(CURVES[kind])
    assert d.kind == kind
    fired = [c.name for c in d.checks if c.fired]
    # A run that blows up past its first loss also climbed back more than its fall, and
    # "fell by less than 5%": all are shown.
    expected = {"healthy": [], "diverging": ["diverging", "climb", "stuck"]}
    assert fired == expected.get(kind, [kind])


def test_nan_is_diverging_and_says_where() -> None:
    d = diagnose(_log([1.0, 0.8, 0.6, 0.5, math.nan, 0.4]))
    assert d.kind == "diverging" and d.checks[0].evidence == "train loss is nan at epoch 5"


def test_a_nan_in_the_second_half_is_not_a_zigzag_of_nan_percent() -> None:
    d = diagnose(_log([2.0 - 0.03 * i for i in range(30)] + [math.nan] * 10))
    osc = next(c for c in d.checks if c.name == "oscillating")
    assert d.kind == "diverging" and not osc.fired and osc.value is None
    assert osc.evidence == (
        "not measured: the train loss is not finite (the diverging row says where)"
    )


def test_a_converged_loss_near_zero_is_not_oscillating() -> None:
    # Batch noise of +-50% of a loss near 0 (the level), after a fall of about 2.3: a
    # healthy run. Against its level alone it would zig-zag by far more than 10%.
    losses = [2.3 * math.exp(-i / 15) + 0.01 * (1 + 0.5 * (-1) ** i) for i in range(300)]
    d = diagnose(_log(losses))
    osc = next(c for c in d.checks if c.name == "oscillating")
    assert d.kind == "healthy" and not osc.fired
    fall = sorted(losses[:30])[15] - sum(losses[149:]) / 151  # first tenth's median to the level
    assert osc.value == pytest.approx(0.005 / fall, rel=0.01)  # a swing of +-0.005 of the fall
    assert f"(RMS) of the {fall:.4g} it fell to its mean level 0.009978" in osc.evidence
    # The same zig-zag on a loss that never fell is measured against its level, and fires.
    flat = [0.01 * (1 + 0.5 * (-1) ** i) for i in range(300)]
    assert diagnose(_log(flat)).kind == "oscillating"


def test_diverging_wins_over_oscillating() -> None:
    zigzag_up = [1.0 + 0.1 * i + 0.5 * (-1) ** i for i in range(20)]
    d = diagnose(_log(zigzag_up))
    assert d.kind == "diverging"
    # It did not fall, but zig-zags far too much to be "stuck" (which would say raise the LR).
    # Its rise above the first point is within a zig-zag: the rise check, not the climb's.
    assert [c.name for c in d.checks if c.fired] == ["diverging", "oscillating"]


@pytest.mark.parametrize(("sd", "n"), [(0.2, 50), (0.3, 200), (0.3, 500)])
def test_a_flat_noisy_per_step_loss_is_oscillating_not_a_blow_up(sd: float, n: int) -> None:
    """No trend, lognormal batch noise: the lowest of many short windows and one first point
    differ by chance; "it blew up and did not recover" was the verdict on 60-80% of seeds."""
    kinds = []
    for seed in range(40):
        rng = random.Random(seed)
        kinds.append(diagnose(_log([2.3 * math.exp(rng.gauss(0, sd)) for _ in range(n)])).kind)
    assert kinds.count("diverging") <= 2 and kinds.count("oscillating") >= 30


def _uniform(n: int, half_width: float, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-half_width, half_width) for _ in range(n)]


def _random_log(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [2.3 * math.exp(-i / (n / 4)) + 0.2 + rng.uniform(-0.05, 0.05) for i in range(n)]


@pytest.mark.parametrize("w", [1, 7, 40])
def test_window_means_are_the_exact_means(w: int) -> None:
    xs = _random_log(200)
    exact = [float(sum(map(Fraction, xs[j : j + w])) / w) for j in range(len(xs) - w + 1)]
    assert window_means(xs, w) == exact  # each rounded once, from the exact sum
    straightforward = [sum(xs[j : j + w]) / w for j in range(len(xs) - w + 1)]
    assert window_means(xs, w) == pytest.approx(straightforward, rel=1e-12)


def test_diverging_is_the_straightforward_quadratic_formula() -> None:
    # The old code, one mean per window: O(n * w). The check now does it in one pass.
    # A random walk (in log space), so the best window lies anywhere, not just last.
    rng = random.Random(0)
    train = [
        math.exp(v) for v in itertools.accumulate(rng.uniform(-0.05, 0.05) for _ in range(3000))
    ]
    n, w = 3000, 600
    means = [sum(train[j : j + w]) / w for j in range(n - 2 * w + 1)]
    best_j = min(range(len(means)), key=means.__getitem__)
    tail = sum(train[-w:]) / w
    assert best_j == 764  # this seed's walk is lowest in the middle
    check = diagnose(_log(train)).checks[0]
    assert check.value == pytest.approx((tail - means[best_j]) / means[best_j], rel=1e-9)
    assert check.evidence == (
        f"mean train loss {tail:.4g} over the last {w} points, 134% above the lowest "
        f"{w}-point mean before them ({means[best_j]:.4g}, epochs {best_j + 1}-{best_j + w})"
    )


def test_equal_windows_tie_exactly() -> None:
    # 0.1 is no binary fraction: a float running sum would make the windows differ.
    check = diagnose(_log([0.1] * 12)).checks[0]
    assert check.value == 0.0
    assert check.evidence == (
        "mean train loss 0.1 over the last 2 points, level with the lowest 2-point mean "
        "before them (0.1, epochs 1-2)"
    )


# Borderlines: the same curve on either side of each threshold (strict comparisons).
def test_diverging_borderline() -> None:
    # w = 2: the best pair before the tail averages 1.0, the tail 1.5 or just under.
    def curve(tail: float) -> LossLog:
        return _log([2.0, 1.5, 1.2, 1.0, 1.0, 1.0, 1.0, 1.0, tail, tail])

    assert diagnose(curve(1.49)).kind == "healthy"
    assert diagnose(curve(1.51)).kind == "diverging"
    assert diagnose(curve(1.5)).checks[0].value == pytest.approx(0.5)


def test_a_spike_then_a_plateau_is_diverging_not_stuck() -> None:
    # A real run at LR 3 on the digits MLP: the first epoch blew up, then the
    # network sat at chance loss (ln 10): "stuck", unless the spike is seen.
    log = _log([10593.5, 3.5, 2.85, 2.64, 2.63, 2.61, 2.61, 2.44, 2.44, 2.49])
    d = diagnose(log)
    assert d.kind == "diverging" and d.checks[1].fired and d.checks[1].kind == "diverging"
    assert d.checks[1].evidence == (
        "train loss 1.059e+04 at epoch 1 is 3027x the highest loss after it (3.5)"
    )


def test_spike_borderline() -> None:
    log = _log([3.0, 2.0, 20.0, 1.9, 1.8, 2.0, 1.7, 1.2, 1.0, 0.9])  # 20 / 2 = 10x
    assert diagnose(log).checks[1].value == pytest.approx(10.0)
    assert diagnose(log, Thresholds(spike=9.9)).kind == "diverging"
    assert diagnose(log, Thresholds(spike=10.1)).kind == "healthy"


def test_a_late_dip_near_zero_is_no_spike() -> None:
    # A run that fits its data: 1e-2, then at most 1e-4, is 100x, but far below the start.
    log = _log([2.0, 1.0, 0.2, 1e-2, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
    d = diagnose(log)
    assert d.kind == "healthy" and d.checks[1].value == pytest.approx(2.0 / 1.0)


def test_stuck_borderline() -> None:
    log = _log([1.0, 1.0, 0.99, 0.98, 0.97, 0.97, 0.97, 0.97, 0.96, 0.96])
    drop = diagnose(log).checks[3].value
    assert drop == pytest.approx(0.04)
    assert diagnose(log, Thresholds(stuck_drop=0.041)).kind == "stuck"
    assert diagnose(log, Thresholds(stuck_drop=0.039)).kind == "healthy"


def test_oscillation_borderline_is_the_zigzag_amplitude() -> None:
    log = _log([2.0 - 0.04 * i + 0.05 * (-1) ** i for i in range(20)])
    amp = diagnose(log).checks[4].value
    second_half = log.train[9:]
    assert amp == pytest.approx(0.05 / (sum(second_half) / len(second_half)))
    assert diagnose(log, Thresholds(oscillation=amp * 0.99)).kind == "oscillating"
    assert diagnose(log, Thresholds(oscillation=amp * 1.01)).kind == "healthy"


# A loss that swings a lot but does not fall: the LR is more likely too high (or the
# batches too small) than too low, so it must not be told to raise the LR.
NOISY_FLAT = {
    "alternating +-39%": [2.0 * (1 + 0.39 * (-1) ** i) for i in range(40)],
    "uniform +-39%": [2.0 * (1 + u) for u in _uniform(2000, 0.39)],
}


@pytest.mark.parametrize("name", list(NOISY_FLAT))
def test_a_noisy_flat_loss_is_oscillating_not_stuck(name: str) -> None:
    d = diagnose(_log(NOISY_FLAT[name]))
    stuck = d.checks[3]
    assert stuck.value < 0.05 and not stuck.fired  # flat, but too noisy to be stuck
    assert stuck.evidence.endswith("(> 10%): too noisy to be stuck")
    assert d.kind == "oscillating" and [c.name for c in d.checks if c.fired] == ["oscillating"]
    assert "raise the LR" not in d.advice
    assert d.advice.startswith("lower the LR 2-3x or use a larger batch")


def test_alternating_noise_evidence() -> None:
    d = diagnose(_log(NOISY_FLAT["alternating +-39%"]))
    assert d.checks[3].evidence == (
        "mean train loss 2 over the first 8 points, 2 over the last 8 points: did not change, "
        "but it zig-zags by +-39.7% (> 10%): too noisy to be stuck"
    )
    assert d.checks[4].evidence == (
        "second half: the train loss zig-zags by +-39.7% (RMS) of its mean level 1.963"
    )


def test_a_flat_loss_with_tiny_noise_is_still_stuck() -> None:
    d = diagnose(_log([2.3 * (1 + u) for u in _uniform(2000, 0.005)]))
    assert d.kind == "stuck" and d.advice.startswith("raise the LR 3-10x")
    assert d.checks[4].value < 0.01


def test_stuck_or_oscillating_on_a_flat_loss_is_the_oscillation_threshold() -> None:
    log = _log([2.0 + 0.1 * (-1) ** i for i in range(21)])
    amp = diagnose(log).checks[4].value
    assert amp == pytest.approx(0.1 / 2.0)  # the second half: 6 highs, 6 lows, level 2.0
    assert diagnose(log, Thresholds(oscillation=amp * 1.01)).kind == "stuck"
    assert diagnose(log, Thresholds(oscillation=amp)).kind == "stuck"  # at most: still quiet
    assert diagnose(log, Thresholds(oscillation=amp * 0.99)).kind == "oscillating"


def test_evidence_says_above_or_below_truthfully() -> None:
    train = [1.0 - 0.05 * i for i in range(10)]
    # The val loss still falls at the end: its tail is below everything before it.
    val = [1.0, 0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.45, 0.40, 0.36]
    d = diagnose(_log(train, val))
    assert d.kind == "healthy" and d.checks[5].value == pytest.approx(0.38 / 0.45 - 1)
    assert d.checks[5].evidence == (
        "mean val loss 0.38 over its last 2 logged points, 15.6% below the lowest "
        "before them (0.45 at epoch 8); train loss 0.65 there, 0.575 over the last 2 "
        "points (fell 11.5%)"
    )
    up = [1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.66, 0.66]
    assert (
        diagnose(_log(train, up))
        .checks[5]
        .evidence.startswith(
            "mean val loss 0.66 over its last 2 logged points, 10% above the lowest "
            "before them (0.6 at epoch 5)"
        )
    )
    rising = _log([2.0, 1.5, 1.2, 1.0, 1.0, 1.0, 1.0, 1.0, 1.51, 1.51])
    assert diagnose(rising).checks[0].evidence == (
        "mean train loss 1.51 over the last 2 points, 51% above the lowest 2-point mean "
        "before them (1, epochs 4-5)"
    )
    falling = diagnose(_log([1.0, 1.0, 0.99, 0.98, 0.97, 0.97, 0.97, 0.97, 0.96, 0.96]))
    assert falling.checks[0].evidence == (
        "mean train loss 0.96 over the last 2 points, 1.03% below the lowest 2-point mean "
        "before them (0.97, epochs 5-6)"
    )
    assert falling.checks[3].evidence == (
        "mean train loss 1 over the first 2 points, 0.96 over the last 2 points: fell 4%"
    )
    # One point per window (6 points), a rise from 0, and a rise of over 1000%.
    tiny = diagnose(_log([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])).checks
    assert tiny[0].evidence == (
        "mean train loss 1 over the last point, above the lowest 1-point mean before them "
        "(0, epoch 1)"
    )
    assert tiny[3].evidence.startswith(
        "mean train loss 0 over the first point, 1 over the last point: rose, but"
    )
    blowup = diagnose(_log([1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 25.0])).checks[0]
    assert blowup.evidence.startswith("mean train loss 12.95 over the last 2 points, 1339% above")


def test_overfitting_borderline_and_needs_a_falling_train_loss() -> None:
    train = [1.0 - 0.05 * i for i in range(10)]
    val = [1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.66, 0.66]  # +10% at the end
    assert diagnose(_log(train, val)).checks[5].value == pytest.approx(0.1)
    assert diagnose(_log(train, val), Thresholds(overfit_rise=0.09)).kind == "overfitting"
    assert diagnose(_log(train, val), Thresholds(overfit_rise=0.11)).kind == "healthy"
    # The train loss stopped falling when the val loss did: not overfitting.
    flat = [1.0 - 0.05 * min(i, 4) for i in range(10)]
    assert diagnose(_log(flat, val), Thresholds(overfit_rise=0.09)).kind == "healthy"


def test_val_with_gaps_is_read_where_logged() -> None:
    val = [math.nan if i % 2 else v + 0.1 for i, v in enumerate(HEALTHY)]
    assert diagnose(_log(HEALTHY, val)).kind == "healthy"


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [(Thresholds(window=0.6), "--window 0.6"), (Thresholds(stuck_drop=-1), "--stuck-drop -1")],
)
def test_bad_thresholds(thresholds: Thresholds, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        diagnose(CURVES["healthy"], thresholds)


def test_too_few_points() -> None:
    with pytest.raises(UsageError, match="5 train losses: diagnose needs at least 6"):
        diagnose(_log([1.0] * 5))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("step,train_loss,val_loss\n0,1.0,1.1\n1,0.9,\n2,0.8,0.95\n", "l.csv"),
        ('{"train": [1.0, 0.9, 0.8], "val": [1.1, null, 0.95], "step": [0, 1, 2]}', "l.json"),
        ('[{"step": 0, "train_loss": 1.0, "val_loss": 1.1}, {"step": 1, "train_loss": 0.9},'
         ' {"step": 2, "train_loss": 0.8, "val_loss": 0.95}]', "l.json"),
    ],
)  # fmt: skip
def test_loaders_accept_the_obvious_forms(tmp_path: Path, text: str, name: str) -> None:
    (tmp_path / name).write_text(text)
    log = load_losses(tmp_path / name)
    assert log.x == [0, 1, 2] and log.x_label == "step" and log.train == [1.0, 0.9, 0.8]
    assert log.val is not None and log.val[0] == 1.1 and math.isnan(log.val[1])


def test_bare_lists_are_train_losses(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("[1.0, 0.5, null]")
    (tmp_path / "a.txt").write_text("1.0\n0.5\nnan\n")
    for name in ("a.json", "a.txt"):
        log = load_losses(tmp_path / name)
        assert log.train[:2] == [1.0, 0.5] and math.isnan(log.train[2]) and log.val is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epoch,accuracy\n1,0.5\n", "no train loss column (looked for train_loss"),
        ("epoch,train_loss\n1,abc\n", "train_loss in line 2 is 'abc', not a number"),
        ("epoch,train_loss\n1,\n", "train_loss has no values"),
        ('[{"step": 1, "loss": "x"}]', "loss in record 1 is 'x', not a number"),
        ('{"val": [1]}', "no train loss column"),
        ('{"train": 5}', "train is not a list"),
    ],
)
def test_loader_errors_say_what_is_expected(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "x").write_text(text)
    with pytest.raises(UsageError) as e:
        load_losses(tmp_path / "x")
    assert message in str(e.value) and "expected a CSV with a header" in str(e.value)


def test_cli_prints_evidence_and_advice_and_plots(tmp_path: Path) -> None:
    log = CURVES["overfitting"]
    columns = zip(log.x, log.train, log.val or [], strict=True)
    rows = [{"epoch": x, "train_loss": t, "val_loss": v} for x, t, v in columns]
    (tmp_path / "l.json").write_text(json.dumps(rows))
    png = tmp_path / "diagnosis.png"
    result = runner.invoke(
        app, ["diagnose", str(tmp_path / "l.json"), "--out-dir", str(png.parent)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Diagnosis: overfitting")
    assert "◀ fired" in result.stdout and "38.9% above" in result.stdout
    assert "(0.7997 at epoch 15)" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("Diagnosis: overfitting: not the LR")
    assert png.read_bytes().startswith(b"\x89PNG")


def test_cli_threshold_options_change_the_class(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("epoch,train_loss\n" + "".join(f"{i},{2.3 - 0.001 * i}\n" for i in range(30)))
    assert "Diagnosis: stuck" in runner.invoke(app, ["diagnose", str(path), "--no-plot"]).stdout
    relaxed = runner.invoke(app, ["diagnose", str(path), "--no-plot", "--stuck-drop", "0.001"])
    assert relaxed.exit_code == 0 and "Diagnosis: healthy" in relaxed.stdout


def test_cli_bad_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["diagnose", str(tmp_path / "none.csv")])
    assert result.exit_code == 2 and "none.csv: no such file; expected a CSV" in result.stderr


def test_figure_holds_the_curves() -> None:
    log = CURVES["overfitting"]
    fig = diagnosis_figure(log, diagnose(log))
    lines = {ln.get_label(): ln for ln in fig.axes[0].lines}
    assert set(lines) == {"train loss", "val loss", "val minimum"}
    assert list(lines["train loss"].get_ydata()) == log.train
    assert list(lines["val loss"].get_ydata()) == log.val
    assert fig.texts[0].get_text() == "diagnosis: overfitting"


def test_diagnose_no_plot_imports_neither_torch_nor_matplotlib(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps(CURVES["stuck"].train))
    assert _modules_after(["diagnose", str(path), "--no-plot"]) == (set(), 0)


def test_rows_without_a_step_column_are_steps_1_2_3(tmp_path: Path) -> None:
    # The 16th loss is the 16th step, as a person counts the log's rows.
    path = tmp_path / "losses.json"
    path.write_text(json.dumps([2.0 - i / 100 for i in range(15)] + [None] + [1.0] * 4))
    result = runner.invoke(app, ["diagnose", str(path), "--no-plot"])
    assert "train loss is nan at step 16" in result.stdout, result.stdout


@pytest.mark.parametrize("key", ["global_step", "_step"])
def test_global_step_and_wandb_step_columns_are_the_x_axis(tmp_path: Path, key: str) -> None:
    path = tmp_path / "losses.csv"
    rows = [f"{100 * (i + 1)},{2.0 - i / 100}" for i in range(20)]
    path.write_text("\n".join([f"{key},train_loss", *rows]) + "\n")
    log = load_losses(path)
    assert log.x[:2] == [100.0, 200.0] and log.x_label == "step"


def _falling(n: int) -> list[float]:
    return [2.3 * 0.97**i for i in range(n)]


def test_a_hugging_face_trainer_state_reads_as_logged(tmp_path: Path) -> None:
    # log_history: train records (loss) and eval records (eval_loss) at their own steps, and a
    # run summary with train_loss at the end. Nothing missing may read as a NaN loss.
    history = []
    for step in range(10, 310, 10):
        history.append(
            {"loss": 2.3 * 0.99**step, "grad_norm": 1.0, "epoch": step / 100, "step": step}
        )
        if step % 50 == 0:
            history.append({"eval_loss": 2.0 * 0.995**step, "epoch": step / 100, "step": step})
    history.append({"train_runtime": 9.9, "train_loss": 0.8, "epoch": 3.0, "step": 300})
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 300, "log_history": history}))
    log = load_losses(path)
    assert log.x == [float(s) for s in range(10, 310, 10)] and log.x_label == "step"
    assert log.train[0] == pytest.approx(2.3 * 0.99**10) and not any(map(math.isnan, log.train))
    assert log.val is not None and log.val[4] == pytest.approx(2.0 * 0.995**50)
    assert sum(not math.isnan(v) for v in log.val) == 6
    result = runner.invoke(app, ["diagnose", str(path), "--no-plot"])
    assert "Diagnosis: healthy" in result.stdout, result.stdout


def test_lightnings_sparse_metrics_csv(tmp_path: Path) -> None:
    # CSVLogger with on_step and on_epoch: step rows, then per epoch a val row and an epoch row.
    lines = ["epoch,step,train_loss_epoch,train_loss_step,val_loss"]
    for epoch in range(5):
        for k in range(4):
            step = epoch * 20 + 5 * k + 4
            lines.append(f"{epoch},{step},,{2.3 * 0.9 ** (step / 5)},")
        end = epoch * 20 + 19
        lines += [f"{epoch},{end},,,{2.0 * 0.9**epoch}", f"{epoch},{end},{2.2 * 0.9**epoch},,"]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    log = load_losses(path)
    assert len(log.train) == 20 and log.x[:2] == [4.0, 9.0]  # the step column, step losses
    assert log.val is not None and log.val[3] == pytest.approx(2.0)  # at the epoch's last step
    assert sum(not math.isnan(v) for v in log.val) == 5


def test_tensorboard_wandb_bom_and_out_of_order_logs(tmp_path: Path) -> None:
    losses = _falling(20)
    tb = tmp_path / "tb.csv"
    tb.write_text(
        "Wall time,Step,Value\n" + "".join(f"1.7e9,{i},{v}\n" for i, v in enumerate(losses))
    )
    assert load_losses(tb).train == pytest.approx(losses)
    panel = tmp_path / "wandb.csv"
    panel.write_text(
        '"Step","run-1 - train/loss","run-1 - train/loss__MIN","run-1 - train/loss__MAX"\n'
        + "".join(f"{i},{v},{v},{v}\n" for i, v in enumerate(losses))
    )
    assert load_losses(panel).train == pytest.approx(losses)
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + ("train_loss\n" + "\n".join(map(str, losses))).encode())
    assert load_losses(bom).train == pytest.approx(losses)
    # Steps written backwards, and a resumed run that logs steps 10-14 again: step order,
    # the later value wins.
    rows = [f"{i},{v}" for i, v in enumerate(losses)]
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("step,loss\n" + "\n".join([*rows[::-1], "12,0.5"]) + "\n")
    log = load_losses(shuffled)
    assert log.x == [float(i) for i in range(20)] and log.train[12] == 0.5
    assert log.train[:12] == pytest.approx(losses[:12])


def test_records_without_a_step_put_validation_after_the_last_train_loss(tmp_path: Path) -> None:
    path = tmp_path / "keras.json"
    path.write_text(json.dumps([{"loss": 2.0}, {"loss": 1.5}, {"val_loss": 1.7}, {"loss": 1.2}]))
    log = load_losses(path)
    assert log.x == [1.0, 2.0, 3.0] and log.train == [2.0, 1.5, 1.2]
    assert log.val is not None and log.val[1] == 1.7 and math.isnan(log.val[0])


def test_a_blow_up_that_settles_on_a_plateau_is_diverging_not_stuck_or_overfitting() -> None:
    # Real runs at too high an LR (the digits MLP at 0.6 per epoch; SGD at LR 2 per step):
    # the loss blows up, then sits on a dead plateau above where it started. Its last
    # window is level with the one before, so the rise check misses it, and "stuck" (raise
    # the LR) or "overfitting" (not the LR) would be the wrong advice.
    plateau = [1.32, 9.26, 4.84, 7.33, 6.07, 2.35] + [2.25 + 0.01 * (i % 3) for i in range(34)]
    val = [3.52, 19.99, 18.62, 2.49, 2.39, 2.76] + [3.57] * 34
    d = diagnose(_log(plateau, val))
    climb = next(c for c in d.checks if c.name == "climb")
    assert (
        d.kind == "diverging"
        and climb.fired
        and climb.evidence
        == (
            "train loss 2.26 over the last 8 points, above the 1.32 it started at, after rising to "
            "9.26 at epoch 2: it blew up and did not recover"
        )
    )
    # Fell fast, then climbed back most of the way: too large steps, not a converged run.
    back = [2.3 - 0.25 * i for i in range(6)] + [1.1 + 0.05 * i for i in range(24)]
    d = diagnose(_log(back))
    climb = next(c for c in d.checks if c.name == "climb")
    # The last 6 points average 2.125; the lowest 3 in a row, 1.05-1.15, average 1.1.
    assert d.kind == "diverging" and climb.value == pytest.approx((2.125 - 1.1) / (2.3 - 1.1))
    # A healthy run's noisy tail near 0 climbs back none of its fall.
    noisy_tail = [2.3 * math.exp(-i / 4) + 0.02 * (i % 2) for i in range(40)]
    assert diagnose(_log(noisy_tail)).kind == "healthy"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--spike", "0.5", "--spike 0.5: must be a number >= 1"),
        ("--spike", "nan", "--spike nan: must be a number >= 1"),  # it said >= 0
        ("--stuck-drop", "1.5", "must be a fraction"),
    ],
)
def test_thresholds_that_cannot_mean_anything_are_usage_errors(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps(HEALTHY))
    result = runner.invoke(app, ["diagnose", str(path), option, value, "--no-plot"])
    assert result.exit_code == 2 and message in result.stderr


def test_a_log_on_stdin_is_dash() -> None:
    result = runner.invoke(app, ["diagnose", "-", "--no-plot"], input=json.dumps(HEALTHY))
    assert result.exit_code == 0 and "Diagnosis: healthy" in result.stdout, result.output


def _nan_tail_logs(tmp_path: Path) -> list[Path]:
    """30 falling losses, then 10 NaN ones, as a CSV, JSON records and a trainer_state.json."""
    losses = [*_falling(30), math.nan]
    steps = range(40)
    csv_log = tmp_path / "nan.csv"
    csv_log.write_text("step,loss\n" + "".join(f"{s},{losses[min(s, 30)]}\n" for s in steps))
    records = [{"step": s, "loss": losses[min(s, 30)]} for s in steps]
    (tmp_path / "records.json").write_text(json.dumps(records))  # NaN, as json.dumps writes it
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": records}))
    return [csv_log, tmp_path / "records.json", tmp_path / "trainer_state.json"]


def test_a_logged_nan_train_loss_is_a_nan_not_a_gap(tmp_path: Path) -> None:
    for path in _nan_tail_logs(tmp_path):
        log = load_losses(path)
        assert len(log.train) == 40 and all(map(math.isnan, log.train[30:])), path
        result = runner.invoke(app, ["diagnose", str(path), "--no-plot"])
        assert "Diagnosis: diverging" in result.stdout, result.stdout
        assert "train loss is nan at step 30" in result.stdout
    # An empty cell, Keras' NA and a null stay "not logged": the row is a val-only one.
    path = tmp_path / "sparse.csv"
    path.write_text("step,loss,val_loss\n1,2.0,\n2,1.5,NA\n2,,1.7\n3,NA,1.6\n4,1.2,\n")
    log = load_losses(path)
    assert log.x == [1.0, 2.0, 4.0] and log.train == [2.0, 1.5, 1.2]
    assert log.val is not None and log.val[1] == 1.6 and math.isnan(log.val[2])


def test_plateau_losses_keep_the_logged_nans(tmp_path: Path) -> None:
    path = _nan_tail_logs(tmp_path)[0]
    args = ["schedule", "plateau", "--lr", "0.1", "--steps", "42", "--no-plot"]
    result = runner.invoke(app, [*args, "--plateau-losses", str(path)])
    assert result.exit_code == 2 and "the file has 40" in result.stderr, result.output


def test_a_wandb_panel_of_several_runs_is_exit_2_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "panel.csv"
    head = '"Step","good - train/loss","good - train/loss__MIN","bad - train/loss"\n'
    path.write_text(head + "".join(f"{i},{v},{v},{2 * v}\n" for i, v in enumerate(_falling(20))))
    result = runner.invoke(app, ["diagnose", str(path), "--no-plot"])
    assert result.exit_code == 2 and "holds 2 runs (good, bad)" in result.stderr, result.output
    assert "export a panel of that run alone" in result.stderr
    # The same as JSON records, and two columns that read as one name.
    records = [{"step": 0, "a - loss": 1.0}, {"step": 1, "b - loss": 0.9}]
    (tmp_path / "runs.json").write_text(json.dumps(records))
    with pytest.raises(UsageError, match=r"holds 2 runs \(a, b\)"):
        load_losses(tmp_path / "runs.json")
    (tmp_path / "dup.csv").write_text("step,loss,Loss\n0,2.4,2.0\n1,2.2,1.9\n")
    with pytest.raises(UsageError, match="2 columns read as loss \\('loss', 'Loss'\\)"):
        load_losses(tmp_path / "dup.csv")


def test_json_columns_are_in_step_order_and_merged_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "cols.json"
    columns = {"step": [3, 2, 1, 0, 2], "train": [0.7, 0.8, 0.9, 1.0, 0.75]}
    path.write_text(json.dumps({**columns, "val": [1.1, 1.2, None, 1.4, None]}))
    log = load_losses(path)
    assert log.x == [0.0, 1.0, 2.0, 3.0] and log.train == [1.0, 0.9, 0.75, 0.7]
    # step 2 logged again without a val: its val stays; a null val is not logged.
    assert log.val is not None and log.val[2] == 1.2 and math.isnan(log.val[1])
    reversed_log = tmp_path / "reversed.json"
    reversed_log.write_text(json.dumps({"step": list(range(29, -1, -1)), "train": _falling(30)}))
    assert load_losses(reversed_log).train == pytest.approx(_falling(30)[::-1])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Step,Training Loss,Validation Loss\n{s},{t},{v}\n{s}.5,No log,NA\n", "hf_notebook.csv"),
        ("step\ttrain loss\tval-loss\n{s}\t{t}\t{v}\n", "tab.tsv"),
        ("step;train_loss;val_loss\n{s};{t};{v}\n", "semicolon.csv"),
        ("epoch,loss,val_loss\n{s},{t},{v}\n{s}.5,NA,NA\n", "keras_na.csv"),
    ],
)
def test_real_headers_separators_and_na_cells(tmp_path: Path, text: str, name: str) -> None:
    head, row, *extra = text.splitlines()
    lines = [head]
    for s, t in enumerate(_falling(20)):
        values = {"s": s, "t": t, "v": t + 0.1}
        lines += [row.format(**values), *(e.format(**values) for e in extra)]
    (tmp_path / name).write_text("\n".join(lines) + "\n")
    log = load_losses(tmp_path / name)
    assert log.x == [float(s) for s in range(20)] and log.train == pytest.approx(_falling(20))
    assert log.val == pytest.approx([t + 0.1 for t in _falling(20)])


def test_a_tensorboard_json_export_is_the_train_loss(tmp_path: Path) -> None:
    path = tmp_path / "tb.json"
    path.write_text(json.dumps([[1.7e9 + s, 10 * s, v] for s, v in enumerate(_falling(20))]))
    log = load_losses(path)
    assert log.x[:2] == [0.0, 10.0] and log.train == pytest.approx(_falling(20))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("step loss\n0 2.4\n1 2.2\n", "it has 'step loss' (one column: is the file separated"),
        ("epoch,val_loss\n1,0.5\n", "it has 'epoch', 'val_loss' (only a validation loss"),
        ("epoch,my loss\n1,0.5\n", "(if 'my loss' is the train loss, rename it train_loss)"),
        ("0,2.4\n1,2.2\n", "it has '0', '2.4' (its first row is numbers: add a header"),
        ('{"epoch": [1], "acc": [0.5]}', "it has 'epoch', 'acc' (rename the train loss"),
    ],
)
def test_no_train_column_names_the_columns_and_the_cause(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "x").write_text(text)
    with pytest.raises(UsageError, match="no train loss column") as e:
        load_losses(tmp_path / "x")
    assert message in str(e.value)


NOT_FINITE = "not measured: the train loss is not finite (the diverging row says where)"


def test_an_inf_loss_leaves_no_nan_or_inf_in_the_evidence() -> None:
    # hunt-52: a run whose loss turns inf and 1e308 read "is nanx (or 0x) the highest loss
    # after it (inf)", "zig-zags by +-nan%" and a stuck row of -inf.
    falling = [1 / (i + 1) for i in range(31)]
    for train in (falling + [math.inf, 1e308] * 9 + [math.inf], [math.inf] * 50):
        d = diagnose(_log(train))
        where = "epoch 32" if train[0] == 1 else "epoch 1"
        assert d.kind == "diverging"
        assert [(c.name, c.value, c.fired, c.evidence) for c in d.checks] == [
            ("diverging", math.inf, True, f"train loss is inf at {where}"),
            ("spike", None, False, NOT_FINITE),
            ("climb", None, False, NOT_FINITE),
            ("stuck", None, False, NOT_FINITE),
            ("oscillating", None, False, NOT_FINITE),
            ("overfitting", None, False, NOT_FINITE),
        ]


def test_losses_near_the_float_limit_are_measured_not_overflowed() -> None:
    # Finite, but their sums and squares overflow: a flat 1e308 was "healthy" (its means
    # inf, "not comparable"), a zig-zag of 1e200 "+-inf%".
    flat = diagnose(_log([1e308] * 50))
    assert flat.kind == "stuck"
    assert [c.value for c in flat.checks] == [0.0, 1.0, 0.0, 0.0, 0.0, None]
    assert flat.checks[3].evidence == (
        "mean train loss 1e+308 over the first 10 points, 1e+308 over the last 10 points: "
        "did not change"
    )
    assert flat.checks[4].evidence == (
        "second half: the train loss zig-zags by +-0% (RMS) of its mean level 1e+308"
    )
    zigzag = diagnose(_log([1e200 * (1 + 0.5 * (-1) ** i) for i in range(50)]))
    assert zigzag.kind == "oscillating"
    assert zigzag.checks[4].value == pytest.approx(0.5, rel=1e-12)
    assert zigzag.checks[4].evidence == (
        "second half: the train loss zig-zags by +-50% (RMS) of its mean level 1e+200"
    )
    # 1e300 over 1e-10 is past a float: a spike all the same, and said so.
    spike = diagnose(_log([1e300, 1e-10, 1e-10, 1e-10, 1e-11, 1e-11, 1e-11, 1e-11])).checks[1]
    assert spike.fired and spike.value == sys.float_info.max
    assert spike.evidence == (
        "train loss 1e+300 at epoch 1 is over 1.798e+308x the highest loss after it (1e-10)"
    )


def test_a_loss_below_0_is_measured_in_differences() -> None:
    # hunt-52: a Gaussian NLL falling from 0 to -49 read "fell 889%" (of |-4.5|) and "its
    # mean level 36.5" (the mean |loss|; the mean is -36.5).
    d = diagnose(_log([0.0 - i for i in range(50)]))
    assert d.kind == "healthy"
    # Fractions of the median |loss|, 24.5; the climb's is of its own fall, 38.
    values = [-10 / 24.5, 1 / 24.5, (-44.5 + 38) / 38, 40 / 24.5, 0.0]
    assert [c.value for c in d.checks[:5]] == pytest.approx(values, rel=1e-12)
    assert [c.evidence for c in d.checks] == [
        "mean train loss -44.5 over the last 10 points, 10 (40.8% of the median |loss| 24.5) "
        "below the lowest 10-point mean before them (-34.5, epochs 31-40)",
        "train loss 0 at epoch 1 is 1 (0.04082x the median |loss| 24.5) above the highest "
        "loss after it (-1)",
        "train loss fell from 0 to -38 (epochs 38-40), then climbed back 0% of that fall "
        "(-44.5 over the last 10 points)",
        "mean train loss -4.5 over the first 10 points, -44.5 over the last 10 points: fell 40 "
        "(163% of the median |loss| 24.5)",
        "second half: the train loss zig-zags by +-0% (RMS) of its mean level -36.5",
        "no validation loss to compare",
    ]
    # A blow-up from -3 to 5000 is a spike: no ratio, but 1662 median |loss| above the rest.
    blown = diagnose(_log([-3.0, -3.1, 5000.0] + [-3.0 - 0.01 * (i % 2) for i in range(20)]))
    assert blown.kind == "diverging" and blown.checks[1].fired
    assert blown.checks[1].value == pytest.approx(5003 / 3.01)
    assert blown.checks[1].evidence == (
        "train loss 5000 at epoch 3 is 5003 (1662x the median |loss| 3.01) above the highest "
        "loss after it (-3)"
    )
    # Zig-zagging across 0, never having fallen: against its mean |loss|, not its mean.
    across = diagnose(_log([-0.3 * (-1) ** i - 0.02 for i in range(50)])).checks[4]
    assert across.evidence == (
        "second half: the train loss zig-zags by +-100% (RMS) of its mean |loss| 0.3 "
        "(mean level -0.02)"
    )
    # A val loss below 0 that climbs back 0.75 from its minimum, 50% of its median |loss|.
    train = [-1 - 0.1 * i for i in range(20)]
    val = [-1 - 0.1 * i if i < 10 else -2 + 0.1 * (i - 10) for i in range(20)]
    overfit = diagnose(_log(train, val)).checks[5]
    assert overfit.fired and overfit.value == pytest.approx(0.5)
    assert overfit.evidence == (
        "mean val loss -1.25 over its last 4 logged points, 0.75 (50% of the median |loss| 1.5) "
        "above the lowest before them (-2 at epoch 11); train loss -2 there, -2.75 over the "
        "last 4 points (fell 0.75)"
    )


def test_comment_lines_are_skipped_and_a_commented_header_is_read(tmp_path: Path) -> None:
    # hunt-52: "# exported from foo" above the header was the header: "rows must have 1
    # cells like the header", which names neither the comment nor the fix.
    rows = "".join(f"{i},{v}\n" for i, v in enumerate(_falling(20)))
    path = tmp_path / "comment.csv"
    path.write_text(f"# exported from foo\nstep,train_loss\n# resumed here\n{rows}")
    log = load_losses(path)
    assert log.x == [float(i) for i in range(20)] and log.train == pytest.approx(_falling(20))
    result = runner.invoke(app, ["diagnose", str(path), "--no-plot"])
    assert result.exit_code == 0 and "Diagnosis: healthy" in result.stdout, result.output
    # numpy's savetxt writes its header as a comment: "# step,train_loss" is the header.
    path.write_text(f"# step,train_loss\n{rows}")
    assert load_losses(path).x == [float(i) for i in range(20)]
    # A comment that names no column is no header: a bare column of losses stays one.
    path.write_text("# exported from foo\n" + "".join(f"{v}\n" for v in _falling(20)))
    log = load_losses(path)
    assert log.x == [float(i) for i in range(1, 21)] and log.train == pytest.approx(_falling(20))

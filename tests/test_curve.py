"""The pure math: LR schedule, bias-corrected EMA, the stop rule."""

from __future__ import annotations

import itertools
import math

import pytest

from lrfind.core.curve import DivergenceRule, Ema, grace_steps, lr_schedule, smooth


def test_exponential_schedule_exact_values() -> None:
    assert lr_schedule(1e-5, 0.1, 5, "exp") == pytest.approx([1e-5, 1e-4, 1e-3, 1e-2, 0.1])


def test_linear_schedule_exact_values() -> None:
    assert lr_schedule(0.1, 0.5, 5, "linear") == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


@pytest.mark.parametrize("mode", ["exp", "linear"])
def test_schedule_includes_both_endpoints_exactly(mode: str) -> None:
    lrs = lr_schedule(1e-7, 10.0, 100, mode)
    assert len(lrs) == 100
    assert lrs[0] == 1e-7 and lrs[-1] == 10.0
    assert all(a < b for a, b in itertools.pairwise(lrs))


def test_exponential_schedule_is_evenly_spaced_in_log() -> None:
    lrs = lr_schedule(1e-6, 1.0, 7)
    ratios = [b / a for a, b in itertools.pairwise(lrs)]
    assert ratios == pytest.approx([10.0] * 6)


def test_bias_corrected_ema_of_a_constant_is_the_constant() -> None:
    # Without bias correction the first value would be 0.05 * 2.5.
    assert smooth([2.5] * 50, 0.05) == pytest.approx([2.5] * 50, rel=1e-12)


def test_ema_matches_the_formula() -> None:
    values = [4.0, 2.0, 3.0]
    w, b = 0.5, 0.5
    avg, expected = 0.0, []
    for i, v in enumerate(values, start=1):
        avg = b * avg + w * v
        expected.append(avg / (1 - b**i))
    assert smooth(values, w) == pytest.approx(expected)
    assert expected[0] == 4.0  # the first smoothed value is the first loss


def test_zero_smoothing_is_off() -> None:
    assert smooth([3.0, 1.0, 2.0], 0.0) == [3.0, 1.0, 2.0]


def test_ema_skips_non_finite_values() -> None:
    ema = Ema(0.5)
    assert ema.update(2.0) == 2.0
    assert math.isnan(ema.update(math.nan))
    assert ema.update(2.0) == pytest.approx(2.0)


def _stop_at(raw: list[float], threshold: float = 4.0, grace: int = 3) -> tuple[int, str] | None:
    rule = DivergenceRule(threshold, grace)
    for i, v in enumerate(raw):
        reason = rule.update(v, v)
        if reason:
            return i, reason
    return None


def test_divergence_stops_above_threshold_times_best() -> None:
    assert _stop_at([2.0, 1.5, 1.0, 1.2, 3.9, 4.0, 4.1, 9.0]) == (6, "diverged")


def test_no_divergence_during_grace_period() -> None:
    # Step 1 jumps to 10x the first loss but is inside the grace period.
    assert _stop_at([1.0, 10.0, 1.0, 1.0, 1.0], grace=3) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_loss_stops_at_once(bad: float) -> None:
    assert _stop_at([bad]) == (0, "nan")
    assert _stop_at([1.0, 0.9, bad, 0.5]) == (2, "nan")


def test_negative_losses_stop_on_a_real_blow_up_only() -> None:
    # A log-likelihood style loss: goes from 2 down to -3, then explodes upwards.
    curve = [2.0, 1.0, 0.0, -1.0, -2.0, -3.0, -2.9, -2.5]
    assert _stop_at(curve) is None  # small wobbles near the best never stop it
    assert _stop_at([*curve, 30.0]) == (8, "diverged")  # 33 above best, 4-1=3 x scale 5


def test_loss_at_zero_from_start_never_stops() -> None:
    assert _stop_at([0.0] * 20) is None


def test_grace_steps_is_short() -> None:
    assert grace_steps(100) == 5
    assert grace_steps(2) == 2
    assert grace_steps(10) == 3

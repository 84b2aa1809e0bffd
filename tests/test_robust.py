"""The robust rule on curves whose answer is known exactly (lrfind.core.robust*)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrfind.core.robust import V1, RobustRule, RobustStop, centred, replay, robust_curve
from lrfind.core.robust_suggest import NO_CURVE, robust_answer

RULE = RobustRule()
LRS = list(np.geomspace(1e-6, 10.0, 100))


def _noisy(level: float, n: int, a: float = 1 / 16) -> list[float]:
    """A plateau with batch noise: level + a, level - a, ... (exact in binary)."""
    return [level + (a if i % 2 else -a) for i in range(n)]


def _bowl() -> list[float]:
    """Flat at 2 (20 points), 1/16 a step down to 1 (16), flat to point 79, then x2 a step."""
    fall = [2 - j / 16 for j in range(16)]
    rise = [2.0**j for j in range(1, 21)]
    return [2.0] * 20 + fall + [1.0] * 44 + rise


def test_one_spike_or_two_in_a_row_do_not_stop_the_sweep() -> None:
    for spikes in ([50], [50, 51]):
        raw = _noisy(1.0, 100)
        for i in spikes:
            raw[i] = 1000.0  # a thousand times the loss: one bad batch, a median of 5 ignores it
        assert replay(raw, RULE)[:2] == (100, "completed")


def test_a_real_blow_up_stops_within_a_few_steps() -> None:
    raw = _bowl()
    n, reason, state = replay(raw, RULE)
    assert reason == "diverged"
    # The rise starts at point 80 (2, 4, 8, 16, ...). The bar is the whole descent (fraction
    # 1.0): the median must exceed 1 + 1 = 2, so 3 of its 5 losses must be above 2 (4, 8, 16
    # at points 81-83): the sweep keeps 84 points, four steps into the blow-up.
    assert n == 84 and state.best == 1.0
    # v1 (fraction 0.25, bar 1.25) stopped one step earlier.
    assert replay(raw, V1)[:2] == (83, "diverged")


def test_a_nan_stops_at_once() -> None:
    stop = RobustStop(RULE)
    assert [stop.update(v) for v in (1.0, 0.9, math.nan)] == [None, None, "nan"]
    assert replay([1.0, math.inf, 1.0], RULE)[:2] == (2, "nan")


def test_stops_are_the_same_for_a_shifted_or_scaled_loss() -> None:
    # The bar is additive (noise scales and a share of the descent), never a ratio: a loss
    # that approaches 0 or is negative stops where the same curve shifted up would.
    base = _bowl()
    near_zero = [(v - 1.0) / 64 for v in base]  # floor exactly 0
    negative = [v - 10.0 for v in base]  # a Gaussian NLL below 0
    assert replay(near_zero, RULE)[:2] == replay(negative, RULE)[:2] == replay(base, RULE)[:2]
    assert (
        robust_answer(LRS[:84], negative[:84], "diverged").lr
        == robust_answer(LRS[:84], near_zero[:84], "diverged").lr
        == robust_answer(LRS[:84], base[:84], "diverged").lr
    )


def test_robust_curve_is_centred_and_keeps_the_ends() -> None:
    assert centred([5.0, 1.0, 9.0, 2.0, 7.0], 3, "median") == [5.0, 5.0, 2.0, 7.0, 7.0]
    assert centred([3.0, 0.0, 3.0, 6.0], 3, "mean") == [3.0, 2.0, 3.0, 6.0]
    step = [1.0] * 20 + [0.0] * 20  # no lag: the step stays where it is
    curve = robust_curve(step, RULE)  # the median of 3 keeps the step; the mean of 9 spreads it
    assert curve.index(0.0) == 24 and curve.index(1.0) == 0  # 4 points each side, symmetric
    assert curve[15] == 1.0 and curve[19] == pytest.approx(5 / 9)
    assert curve[20] == pytest.approx(4 / 9)
    assert robust_curve(step, V1).index(0.0) == 21  # v1: the mean of 3 reaches 0 one point in


def test_suggestion_bounds_and_confidence_on_the_bowl() -> None:
    n = 84
    a = robust_answer(LRS[:n], _bowl()[:n], "diverged")
    # The robust curve reaches the floor of 1 at point 40 (the mean of 9 needs 36 to 44 on
    # it). No batch noise, so the basin's edge (half a noise scale above the floor) is the
    # minimum itself: the suggestion is that LR / 5.
    assert a.min_index == 40 and a.lr == pytest.approx(LRS[40] / 5)
    # It starts falling where it is a tenth of the descent below the plateau of 2: the mean
    # of 9 over the fall (1/16 a step from point 20) is below 1.9 from point 21 on.
    assert a.falling_from == LRS[21] and a.falling_to == LRS[40]
    # A descent of 1 against no batch noise, and a floor (3.1 decades) wide: high.
    assert a.confidence == "high" and a.reasons == ()
    # v1 read the minimum of a median of 11 then a mean of 3: point 37.
    v1 = robust_answer(LRS[:83], _bowl()[:83], "diverged", V1)
    assert v1.min_index == 37 and v1.lr == pytest.approx(LRS[37] / 5)
    assert v1.falling_from == LRS[22] and v1.confidence == "high"


def test_the_suggestion_is_the_left_edge_of_a_noisy_floor_not_its_lowest_dip() -> None:
    # The bowl with batch noise (+-1/16) and a dip of 1/32, smaller than the noise, at points
    # 60-69 of its floor (36-79): the minimum lands in the dip, the suggestion does not.
    raw = _bowl()
    raw[60:70] = [1 - 1 / 32] * 10
    raw = [v + (1 / 16 if i % 2 else -1 / 16) for i, v in enumerate(raw)]
    n, stop, _ = replay(raw, RULE)
    a = robust_answer(LRS[:n], raw[:n], stop)
    assert a.lr is not None and 60 <= a.min_index < 70
    # Walking left from the minimum, the curve first is half a noise scale above it between
    # points 36 and 37, where the floor begins; the suggestion is that LR (interpolated) / 5.
    level = a.curve[a.min_index] + 0.5 * a.detail["noise"]
    assert a.curve[36] >= level > a.curve[37] and all(v < level for v in a.curve[37 : a.min_index])
    assert LRS[36] / 5 < a.lr < LRS[37] / 5
    # The same bowl without the dip: the minimum moves, the edge hardly (by under a point).
    flat = [v + (1 / 16 if i % 2 else -1 / 16) for i, v in enumerate(_bowl())]
    b = robust_answer(LRS[:n], flat[:n], stop)
    assert abs(math.log(b.lr / a.lr) / math.log(LRS[1] / LRS[0])) < 1


def test_confidence_drops_on_a_noisy_shallow_descent_and_a_sharp_minimum() -> None:
    raw = [v + (0.25 if i % 2 else -0.25) for i, v in enumerate(_bowl())][:83]
    noisy = robust_answer(LRS[:83], raw, "diverged")
    assert noisy.confidence == "low" and any("noisy curve" in r for r in noisy.reasons)
    # The reason gives the depth it measured, not "a few times" (a pure-noise dip can be 1x).
    snr = noisy.detail["snr"]
    assert f"the descent is only {snr:.1f}x its noise" in "; ".join(noisy.reasons)
    sharp = [2.0] * 40 + [2 - j / 4 for j in range(1, 5)] + [1.25, 1.5, 4.0, 8.0]
    s = robust_answer(LRS[: len(sharp)], sharp, "diverged")
    assert s.lr is not None and s.confidence == "medium"
    assert any(r.startswith("a sharp minimum") for r in s.reasons)


def test_no_usable_curve() -> None:
    few = robust_answer(LRS[:4], [1.0, 0.9, 0.8, math.nan], "nan")
    assert few.lr is None and few.reasons[0].startswith(NO_CURVE) and "--steps" in few.reasons[0]
    # A loss equal at every step: no update moved it, so the fix is in the model, not the range.
    flat = robust_answer(LRS[:30], [1.0] * 30, "completed")
    assert flat.lr is None and "is 1 at every step" in flat.reasons[0]
    assert "no update changes it" in flat.reasons[0] and "--start-lr" not in flat.reasons[0]
    # A loss that only rises: the minimum is the first point looked at (after the 5% trim),
    # and its LR / divisor lies below the swept range: no suggestion, start lower.
    rising = robust_answer(LRS[:30], [1.0 + i / 16 for i in range(30)], "diverged")
    assert rising.lr is None and "start the sweep lower (--start-lr)" in rising.reasons[0]
    # A range narrower than the divisor (1e-3 to 1.2e-3), the loss falling all along.
    narrow = [1e-3 * 1.2 ** (i / 19) for i in range(20)]
    short = robust_answer(narrow, [2.0 - i / 20 for i in range(20)], "completed")
    assert short.lr is None and "below the swept range" in short.reasons[0]


def test_flat_then_rising_says_the_loss_never_fell_not_start_lower() -> None:
    # The loss bobs by +-0.01 around 2.3 until lr 1e-2, then rises: it never falls. Lowering
    # --start-lr only adds more of the flat part, so "start lower" would loop for ever.
    lrs = list(np.geomspace(1e-7, 10.0, 40))
    raw = [2.3 + 0.01 * (-1) ** i + max(0.0, 3 * math.log10(lr / 1e-2)) for i, lr in enumerate(lrs)]
    answer = robust_answer(lrs, raw, "diverged")
    assert answer.lr is None and answer.reasons[0].startswith(NO_CURVE)
    assert "flat from the start" in answer.reasons[0] and "--steps" in answer.reasons[0]
    assert "start the sweep lower" not in answer.reasons[0]


def test_no_usable_curve_is_no_suggestion_whatever_the_method() -> None:
    from lrfind.config.settings import SweepConfig
    from lrfind.core.history import History
    from lrfind.core.result import analyse

    falling = [2.0, 1.5, 1.0, 0.5, 0.25]
    # The robust rule needs 5 finite points; valley finds a decline in 2, too few to judge.
    for method, n in (("robust", 4), ("valley", 5)):
        h = History(lrs=LRS[:n], losses=falling[:n], smoothed=falling[:n], stop_reason="diverged")
        r = analyse(h, SweepConfig(steps=6, method=method))
        assert r.suggested_lr is None, method
        assert r.suggestion.reason.startswith(NO_CURVE) and "--steps" in r.suggestion.reason
        assert r.uncertainty.confidence == "low"


def test_never_high_next_to_unstable() -> None:
    from lrfind.core.history import History
    from lrfind.core.repeats import RepeatRun, Repeats
    from lrfind.core.uncertainty import Uncertainty, with_rule

    h = History(lrs=[], losses=[], smoothed=[], stop_reason="diverged")

    def rep(lrs: list[float], spread: float) -> Repeats:
        runs = [RepeatRun(i, lr, {}, h) for i, lr in enumerate(lrs)]
        return Repeats(runs, lrs[0], spread, spread / 2, shown=0)

    high = Uncertainty(None, 0.05, {}, "high", [])
    assert with_rule(high, None, 0.1, rep([0.1, 0.12], 0.08)).confidence == "high"  # stable
    half = with_rule(high, None, 0.1, rep([0.1, 0.316], 0.5))
    assert half.confidence == "medium" and half.reasons == ["the repeats spread over 0.50 decades"]
    assert with_rule(high, None, 0.1, rep([0.01, 1.0], 2.0)).confidence == "low"


def test_analyse_answers_with_the_robust_rule_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The suggestion, the schedule bounds and the confidence all read one answer: the rule is
    # not replayed again for the cached property, nor after a "no usable curve" rewrite.
    import lrfind.core.result as result_module
    from lrfind.config.settings import SweepConfig
    from lrfind.core.history import History

    calls = []
    real = result_module.robust_answer
    monkeypatch.setattr(
        result_module, "robust_answer", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    losses = [2.0 - i / 50 for i in range(40)] + [1.2 + 2 ** (i / 3) for i in range(20)]
    h = History(lrs=LRS[:60], losses=losses, smoothed=losses, stop_reason="diverged")
    r = result_module.analyse(h, SweepConfig(steps=60))
    assert r.robust.lr == r.suggested_lr and r.uncertainty.confidence in ("high", "medium", "low")
    r.schedules()
    assert len(calls) == 1


def test_an_interrupted_sweep_still_falling_or_flat_says_rerun_not_a_setting() -> None:
    # The user stopped it after 13 of 100 steps: the curve is whatever part ran, so the fix
    # is to let it run, not a lower --start-lr, and no LR is read off a descent cut short.
    lrs = list(np.geomspace(1e-7, 10, 100))[:13]
    falling = robust_answer(lrs, [2.3 - 0.01 * i for i in range(13)], "interrupted")
    assert falling.lr is None
    assert falling.reasons[0] == (
        f"{NO_CURVE}: the loss was still falling when the sweep was interrupted (at lr "
        f"{lrs[-1]:.3g}): rerun it and let it run"
    )
    flat = robust_answer(lrs, [2.3 + 0.001 * (-1) ** i for i in range(13)], "interrupted")
    assert (
        flat.lr is None and "does not fall measurably in the 13 points before" in (flat.reasons[0])
    )
    assert "--start-lr" not in flat.reasons[0]
    # The same flat curve from a sweep that ran to its end keeps its own advice.
    done = robust_answer(lrs, [2.3 + 0.001 * (-1) ** i for i in range(13)], "completed")
    assert "interrupt" not in done.reasons[0]


def test_a_flat_loss_that_then_diverges_never_says_start_lower() -> None:
    # A real sweep: torchvision's ResNet-18 with its backbone frozen, on FakeData's random
    # labels (40 steps): flat around 2.55 for five decades, then it blows up. The lowest
    # point of the curve is near the start; a lower --start-lr would only add more of the
    # flat part, and the advice would loop.
    raw = [2.519, 2.557, 2.567, 2.477, 2.508, 2.578, 2.643, 2.506, 2.673, 2.429, 2.648, 2.606,
           2.492, 2.524, 2.577, 2.625, 2.52, 2.631, 2.48, 2.627, 2.328, 2.572, 2.443, 2.644,
           2.535, 2.719, 2.152, 2.515, 2.653, 2.7, 5.15, 11.079, 18.734]  # fmt: skip
    answer = robust_answer(list(np.geomspace(1e-7, 10.0, 40))[:33], raw, "diverged")
    assert (
        answer.lr is None
        and "the loss is flat from the start of the sweep to lr" in (answer.reasons[0])
    )
    assert "start the sweep lower" not in answer.reasons[0]


def test_a_flat_curve_with_no_suggestion_gets_no_second_start_lower_caveat() -> None:
    # Its reason says a lower --start-lr only adds more of the flat part; the caveat
    # "the minimum is in the first points: lower --start-lr" contradicted it (helper-26).
    from lrfind.config.settings import SweepConfig
    from lrfind.core.history import History
    from lrfind.core.result import analyse

    lrs = list(np.geomspace(1e-7, 10.0, 40))
    raw = [2.3 + 0.01 * (-1) ** i + max(0.0, 3 * math.log10(lr / 1e-2)) for i, lr in enumerate(lrs)]
    raw[2] = 2.2  # the lowest point among the first ones
    h = History(lrs=lrs, losses=raw, smoothed=raw, stop_reason="diverged")
    result = analyse(h, SweepConfig(steps=40))
    assert result.suggested_lr is None and "flat from the start" in result.suggestion.reason
    assert not any("lower --start-lr to see the curve" in w for w in result.warnings)


def test_a_nan_early_before_any_real_descent_gives_no_suggestion() -> None:
    """A NaN batch in the data at step 14 of 100: the 13 flat points before it hold a dip of
    the noise, not a minimum; a CI job testing the exit code must not take an LR from them.
    A real descent before an early NaN still gives one."""
    from lrfind.config.settings import SweepConfig
    from lrfind.core.history import History
    from lrfind.core.result import analyse

    lrs = list(np.geomspace(1e-7, 10.0, 100))[:14]
    noise = np.random.default_rng(0).standard_normal(13)  # a dip of 2.7 noise scales
    flat = [*(2.3 + 0.05 * noise), math.nan]
    h = History(lrs=lrs, losses=flat, smoothed=flat, stop_reason="nan")
    result = analyse(h, SweepConfig(steps=100))
    assert result.suggested_lr is None
    assert result.suggestion.reason.startswith(
        "no usable curve: the loss turned NaN/inf at step 14 (lr 1.12e-06) before it fell"
    )
    lrs = list(np.geomspace(1e-7, 10.0, 100))[:20]  # a steep fall (a high --start-lr), NaN
    falling = [2.3] * 5 + [2.3 - 0.2 * min(i, 7) + 0.01 * (-1) ** i for i in range(14)]
    h = History(lrs=lrs, losses=[*falling, math.nan], smoothed=falling, stop_reason="nan")
    assert analyse(h, SweepConfig(steps=100)).suggested_lr is not None


def test_an_early_stop_of_a_linear_sweep_points_at_the_mode_not_at_stop_k() -> None:
    from lrfind.core.caveats import curve_warnings
    from lrfind.core.history import History

    lrs = list(np.linspace(1e-7, 10.0, 100))[:15]
    raw = [2.3, 2.0, 1.5, 1.2, 1.1, 1.3, 2.0, 3.0, 5.0, 9.0, 20.0, 40.0, 80.0, 150.0, 300.0]
    h = History(lrs=lrs, losses=raw, smoothed=raw, stop_reason="diverged")
    linear = curve_warnings(h, 4, 100, linear=True)
    assert linear == [
        "the sweep stopped as diverged after only 15 of 100 steps (lr 1.41): likely a real "
        "blow-up, as linear steps jump from lr 1e-07 to 0.101 at once: sweep in exponential "
        "steps (--mode exp)"
    ]
    assert "raise --stop-k" in curve_warnings(h, 4, 100)[0]  # exponential: the noise's fix


def test_a_suggestion_between_two_points_a_decade_apart_is_none() -> None:
    """--mode linear --smoothing 0.5, 40 steps: the EMA's edge fell between 1e-7 and 0.256,
    the first two LRs, and was printed with exit 0; the curve has no point there."""
    from lrfind.core.caveats import between_points
    from lrfind.core.robust_suggest import RobustAnswer

    lrs = [1e-7, 0.256, 0.513, 0.769]
    none = between_points(RobustAnswer(0.0631, [1.0] * 4, "low"), lrs)
    assert none.lr is None and none.reasons[0] == (
        "no usable curve: the suggestion 0.0631 lies between the swept LRs 1e-07 and 0.256, "
        "where the curve has no point: sweep in exponential steps (--mode exp)"
    )
    kept = between_points(RobustAnswer(0.3, [1.0] * 4, "low"), lrs)  # 0.256 to 0.513: 2x
    assert kept.lr == 0.3
    # 8 exponential steps over 8 decades: every gap is 1.14 decades, none is blind.
    coarse = list(np.geomspace(1e-7, 10.0, 8))
    assert between_points(RobustAnswer(2.78e-7, [1.0] * 8, "low"), coarse).lr == 2.78e-7


def test_a_stop_under_a_lowered_stop_k_names_it() -> None:
    """--stop-k 0.5 stopped a 40-step sweep at step 12, past the early-stop caveat's first
    quarter: the only words were 'check that the model can learn'."""
    from lrfind.config.settings import SweepConfig
    from lrfind.core.caveats import curve_warnings, lowered_stop
    from lrfind.core.history import History

    lrs = list(np.geomspace(1e-7, 10.0, 40))[:12]
    raw = [2.3 + 0.01 * (-1) ** i for i in range(12)]
    h = History(lrs=lrs, losses=raw, smoothed=raw, stop_reason="diverged")
    said = lowered_stop(SweepConfig(steps=40, stop_k=0.5))
    assert said == "--stop-k 0.5 (default 12)"
    assert curve_warnings(h, None, 40, lowered=said) == [
        "the sweep stopped as diverged at step 12 (lr 1.8e-05) under --stop-k 0.5 (default "
        "12): a lower bar stops on noise sooner; raise it if the loss was still falling"
    ]
    assert lowered_stop(SweepConfig()) == "" and curve_warnings(h, None, 40) == []


def test_a_linear_sweep_below_its_range_says_to_sweep_in_exponential_steps() -> None:
    # A real sweep with --mode linear, 1e-7 to 10 in 20 steps: the second LR is already
    # 0.53 and the loss blows up from there. A lower --start-lr would change nothing;
    # exponential steps are the fix.
    lrs = list(np.linspace(1e-7, 10.0, 20))[:12]
    raw = [39.8, 66.59, 153.4, 4534.0, 1.941e6, 1.869e9, 1.071e12, 5.663e14, 6.097e17,
           1.07e21, 2.645e24, 7.482e27]  # fmt: skip
    answer = robust_answer(lrs, raw, "diverged")
    assert answer.lr is None and answer.reasons[0].endswith(
        "sweep in exponential steps (--mode exp, the default): linear ones jump from 1e-07 to "
        "0.526 at once"
    )

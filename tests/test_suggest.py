"""Suggestion methods on curves with known answers and on edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrfind.config.settings import METHOD_NAMES
from lrfind.core.suggest import (
    METHODS,
    curve_minimum,
    edges,
    min_div_10,
    nearest_index,
    steepest,
    suggest_all,
    valley,
)

LRS = list(np.geomspace(1e-6, 1.0, 61))  # 10 points per decade


def _bowl(center: float = 1e-2) -> list[float]:
    """A loss that is lowest at `center` and rises on both sides (in log LR)."""
    return [1.0 + (math.log10(lr) - math.log10(center)) ** 2 for lr in LRS]


def test_registry_matches_config_names() -> None:
    # "robust" reads the raw losses and the stop too: lrfind.core.robust_suggest, not METHODS.
    assert ("robust", *METHODS) == METHOD_NAMES


def test_min_div_10_is_one_decade_below_the_minimum() -> None:
    s = min_div_10(LRS, _bowl(1e-2))
    assert s.lr == pytest.approx(1e-3)
    assert LRS[s.index] == pytest.approx(1e-3)
    assert s.reason is None


def test_curve_minimum_finds_the_bowl() -> None:
    assert LRS[curve_minimum(LRS, _bowl(1e-2))] == pytest.approx(1e-2)


def test_min_div_10_never_goes_below_the_start_lr() -> None:
    rising = [float(i) for i in range(len(LRS))]  # minimum at the start
    assert min_div_10(LRS, rising).lr == LRS[0]


def test_min_div_10_ignores_non_finite_points() -> None:
    losses = _bowl(1e-2)
    losses[45] = -math.inf  # would be the "minimum" if kept
    losses[46] = math.nan
    assert min_div_10(LRS, losses).lr == pytest.approx(1e-3)


def test_edges_trim_the_ends() -> None:
    assert edges(100) == (10, 97)
    assert edges(3) == (0, 2)
    assert edges(2) == (0, 2)
    # The minimum of the raw first point is trimmed away:
    losses = _bowl(1e-2)
    losses[0] = -5.0
    assert min_div_10(LRS, losses).lr == pytest.approx(1e-3)


def test_steepest_is_where_the_loss_falls_fastest() -> None:
    # A logistic drop centred at 1e-3 (in log10 LR): steepest there.
    losses = [2.0 - 1.0 / (1 + math.exp(-4 * (math.log10(lr) + 3))) for lr in LRS]
    assert steepest(LRS, losses).lr == pytest.approx(1e-3)


def test_valley_is_in_the_middle_of_the_longest_decline() -> None:
    # Flat with noise, then a clean decline from 1e-4 to 1e-2, then a rise.
    losses = []
    for lr in LRS:
        x = math.log10(lr)
        if x < -4:
            losses.append(3.0 + 0.01 * ((-1) ** round(x * 10)))
        elif x <= -2:
            losses.append(3.0 - (x + 4))
        else:
            losses.append(1.0 + 5 * (x + 2))
    s = valley(LRS, losses)
    assert s.lr == pytest.approx(1e-3, rel=0.3)
    assert 1e-4 < s.lr < 1e-2


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize(
    ("lrs", "losses", "why"),
    [
        ([], [], "no finite"),
        ([1e-3], [1.0], "only one"),
        (LRS, [math.nan] * len(LRS), "no finite"),
        (LRS, [2.0] * len(LRS), "flat"),
    ],
    ids=["empty", "one point", "all nan", "flat"],
)
def test_no_suggestion_gives_none_and_a_reason(
    name: str, lrs: list, losses: list, why: str
) -> None:
    s = METHODS[name](lrs, losses)
    assert s.lr is None and s.index is None
    assert why in s.reason


@pytest.mark.parametrize("name", ["steepest", "valley"])
def test_monotone_rising_curve_has_no_decline(name: str) -> None:
    s = METHODS[name](LRS, [float(i) for i in range(len(LRS))])
    assert s.lr is None and "never decreases" in s.reason


def test_monotone_falling_curve() -> None:
    falling = [float(len(LRS) - i) for i in range(len(LRS))]
    _lo, hi = edges(len(LRS))
    # The minimum is the last point inside the trimmed window.
    assert curve_minimum(LRS, falling) == hi - 1
    assert min_div_10(LRS, falling).lr == pytest.approx(LRS[hi - 1] / 10)
    assert valley(LRS, falling).lr is not None


def test_suggest_all_names_every_method() -> None:
    out = suggest_all(LRS, _bowl())
    assert set(out) == set(METHOD_NAMES) - {"robust"}
    assert all(s.method == name for name, s in out.items())


def test_nearest_index_on_log_scale() -> None:
    assert nearest_index([1e-3, 1e-2, 1e-1], 3.5e-2) == 2  # log-nearer to 1e-1 than 1e-2
    assert nearest_index([1e-3, 1e-2, 1e-1], 3.0e-2) == 1
    assert nearest_index([], 1.0) is None

"""The suggestion's uncertainty: near-minimum range, progress a decade away, confidence."""

from __future__ import annotations

import pytest

from lrfind.core.suggest import Suggestion, suggest_all
from lrfind.core.uncertainty import assess

LRS = [10 ** (-7 + k / 10) for k in range(81)]  # a tenth of a decade apart


def v_curve(bottom: tuple[int, int] = (60, 60)) -> list[float]:
    """Flat at 1 up to 1e-3, down linearly to 0 at index bottom[0], flat to bottom[1], then up."""
    a, b = bottom
    return [1.0 if k <= 40 else max(0.0, 1 - (k - 40) / (a - 40)) if k <= b else (k - b) / 5
            for k in range(81)]  # fmt: skip


def test_progress_and_range_on_a_clean_v() -> None:
    y = v_curve()
    s = suggest_all(LRS, y)
    assert s["min_div_10"].lr == pytest.approx(0.01)
    u = assess(LRS, y, s, "diverged")
    assert u.progress["at_suggestion"] == pytest.approx(0.5)  # half way down at 1e-2
    assert u.progress["decade_lower"] == pytest.approx(0.0)  # 1e-3: still on the plateau
    assert u.progress["decade_higher"] == pytest.approx(1.0)  # 1e-1: the minimum
    assert u.near_min == pytest.approx((0.1, 0.1))
    assert (u.confidence, u.reasons) == ("high", [])


def test_a_flat_bottom_is_the_near_minimum_range() -> None:
    y = v_curve(bottom=(55, 65))  # 0 from index 55 to 65: 10**-1.5 to 10**-0.5
    u = assess(LRS, y, suggest_all(LRS, y), "diverged")
    assert u.near_min == pytest.approx((10**-1.5, 10**-0.5))


def test_doubts_lower_the_confidence() -> None:
    barely = [1.0 - 0.01 * (k > 40) for k in range(81)]  # falls by 1%
    u = assess(LRS, barely, suggest_all(LRS, barely), "completed")
    assert u.confidence in {"medium", "low"}
    assert any("falls by only 1.0%" in r for r in u.reasons)

    falling = [1.0 - k / 100 for k in range(81)]  # still falling when the sweep ends
    u = assess(LRS, falling, suggest_all(LRS, falling), "completed")
    assert "the loss was still falling at the end of the sweep" in u.reasons


def test_disagreement_with_valley_is_a_reason() -> None:
    y = v_curve()
    s = dict(suggest_all(LRS, y), valley=Suggestion("valley", 1e-5, 20))
    u = assess(LRS, y, s, "diverged")
    assert u.confidence == "medium"
    assert u.reasons == ["min_div_10 and valley disagree by 3.0 decades"]


def test_no_suggestion_means_low_confidence() -> None:
    u = assess(LRS, [1.0] * 81, {"min_div_10": Suggestion("min_div_10", None)}, "completed")
    assert (u.confidence, u.near_min, u.progress) == ("low", None, {})

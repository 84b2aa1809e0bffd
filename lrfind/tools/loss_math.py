"""The numbers `diagnose` compares: window means, relative changes, the zig-zag.

Plain Python over lists of floats (no numpy or torch), each linear in the length.
"""

from __future__ import annotations

import itertools
import math


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def window_means(xs: list[float], w: int) -> list[float]:
    """The mean of every run of w consecutive (finite) points, in one pass over xs.

    Exact prefix sums: a finite float is an integer over a power of two, so over the
    largest such power all are integers. A window's sum is the difference of two, rounded
    once by int / int: equal windows tie exactly (a float running sum drifts)."""
    ratios = [v.as_integer_ratio() for v in xs]
    shift = max(d for _, d in ratios).bit_length()  # denominators are powers of two
    prefix = [0, *itertools.accumulate(n << (shift - d.bit_length()) for n, d in ratios)]
    scale = w << (shift - 1)
    return [(prefix[j + w] - prefix[j]) / scale for j in range(len(xs) - w + 1)]


def change(new: float, old: float) -> float:
    """(new - old) relative to |old|; +-inf from 0 to anything else (losses are positive)."""
    if old:
        return (new - old) / abs(old)
    return 0.0 if new == old else math.copysign(math.inf, new - old)


def pct(fraction: float) -> str:
    """3 significant digits, so a small change is not '0.0%': '0.0211%', '3.19%', '1250%'."""
    p = abs(fraction) * 100
    return "<0.001%" if 0 < p < 0.001 else f"{p:.0f}%" if 1e3 <= p < 1e6 else f"{p:.3g}%"


def zigzag(train: list[float]) -> tuple[float, float, float | None]:
    """The second half's zig-zag (RMS) as a fraction of its scale; that half's level (mean
    |loss|); and the fall to it when the fall is the scale, else None.

    The scale is the level, or how far the loss has fallen to that level from the median
    of the first tenth, when that is larger: near a loss of 0 the level is no scale (a
    converged run's batch noise is many times its level and nothing next to its fall),
    while a flat loss has fallen by nothing and is measured against its level.
    """
    half = train[len(train) // 2 - 1 :]
    # Half the gap to the neighbours' mean: `a` for a zig-zag of +-a, near 0 on a smooth curve.
    swings = [(half[i] - (half[i - 1] + half[i + 1]) / 2) / 2 for i in range(1, len(half) - 1)]
    level = mean([abs(v) for v in half])
    head = sorted(train[: max(1, len(train) // 10)])
    fall = head[len(head) // 2] - mean(half)  # from a median: an early spike is no start
    scale = max(level, fall)
    rms = math.sqrt(mean([s * s for s in swings]))
    return (rms / scale if scale else 0.0), level, (fall if fall > level else None)

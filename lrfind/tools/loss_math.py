"""The numbers `diagnose` compares: window means, relative changes, the zig-zag.

Plain Python over lists of floats (no numpy or torch), each linear in the length.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal


def mean(xs: list[float]) -> float:
    """The mean; exact where the float sum overflows (1e308 + 1e308 is inf, their mean is not)."""
    m = sum(xs) / len(xs)
    if math.isfinite(m) or not all(map(math.isfinite, xs)):
        return m
    return window_means(xs, len(xs))[0]


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


def signed_scale(xs: list[float]) -> float | None:
    """None for losses that never go below 0: their changes are relative to their level.

    Below 0 (a Gaussian NLL) the level is no scale: where it crosses or nears 0 a change
    relative to it is any size at all, and its sign turns. Such a log's changes are
    differences, compared with the thresholds as fractions of its median |loss|.
    """
    finite = sorted(abs(x) for x in xs if math.isfinite(x))
    if all(x >= 0 for x in xs if math.isfinite(x)):
        return None
    n = len(finite)
    return finite[(n - 1) // 2] / 2 + finite[n // 2] / 2  # halves first: no overflow


def change(new: float, old: float, scale: float | None = None) -> float:
    """(new - old) relative to |old|, or to `scale` for a log below 0 (see signed_scale);
    +-inf from a reference of 0 to anything else."""
    ref = abs(old) if scale is None else scale
    if ref:
        return (new - old) / ref
    return 0.0 if new == old else math.copysign(math.inf, new - old)


def pct(fraction: float) -> str:
    """3 significant digits, so a small change is not '0.0%': '0.0211%', '3.19%', '1250%'."""
    p = abs(fraction) * 100
    if math.isinf(fraction):  # past the float range: a bound
        return "over 1.8e+310%"
    if math.isinf(p):  # 1e307 is 1e309%: past a float, not past a Decimal
        return f"{Decimal(abs(fraction)) * 100:.3g}%"
    return "<0.001%" if 0 < p < 0.001 else f"{p:.0f}%" if 1e3 <= p < 1e6 else f"{p:.3g}%"


def zigzag(train: list[float]) -> tuple[float, float, float, float | None]:
    """The second half's zig-zag (RMS) as a fraction of its scale; that half's size (mean
    |loss|) and its mean; and the fall to it when the fall is the scale, else None.

    The scale is the level, or how far the loss has fallen to that level from the median
    of the first tenth, when that is larger: near a loss of 0 the level is no scale (a
    converged run's batch noise is many times its level and nothing next to its fall),
    while a flat loss has fallen by nothing and is measured against its level.
    """
    # On the losses over 2**e, which is exact and leaves the ratio as it is: the squares of
    # losses past 1e154 overflow (a zig-zag of inf%), and those below 1e-162 underflow.
    e = math.frexp(max(map(abs, train)))[1]
    e = e - 400 if e > 400 else e if e < -400 else 0
    train = [math.ldexp(v, -e) for v in train]
    half = train[len(train) // 2 - 1 :]
    # Half the gap to the neighbours' mean: `a` for a zig-zag of +-a, near 0 on a smooth curve.
    swings = [(half[i] - (half[i - 1] + half[i + 1]) / 2) / 2 for i in range(1, len(half) - 1)]
    level = mean([abs(v) for v in half])
    head = sorted(train[: max(1, len(train) // 10)])
    fall = head[len(head) // 2] - mean(half)  # from a median: an early spike is no start
    scale = max(level, fall)
    rms = math.sqrt(mean([s * s for s in swings]))
    amp = rms / scale if scale else 0.0
    unscaled = [v * 2.0**e for v in (level, mean(half), fall)]
    return amp, unscaled[0], unscaled[1], (unscaled[2] if fall > level else None)

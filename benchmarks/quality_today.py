"""lrfind 0.1's rule as it ships today, replayed in plain Python on a recorded raw curve.

Written from lrfind's documented behaviour (not imported, so that the replay
does not depend on lrfind's internal modules): an optional bias-corrected EMA
(smoothing 0 by default); the sweep stops at once on a non-finite loss, and,
after a grace of max(3, steps // 20) points, when the watched loss rises above
threshold x its best (for a best <= 0, when it has risen by (threshold - 1) x
the larger of |best| and the drop to the best from the highest value before
it); the suggestion is the LR of the minimum of the watched loss inside the
window [min(n // 10, 10), n - 3), divided by 10, never below the first LR.
quality_score.py checks this replay against lrfind's own default runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Today:
    lr: float | None
    points: int
    stop: str


def _ema(raw: Sequence[float], weight: float) -> list[float]:
    """Bias-corrected EMA (weight of the newest value); non-finite in, NaN out, average kept."""
    if weight == 0:
        return [v if math.isfinite(v) else math.nan for v in raw]
    avg, count, out = 0.0, 0, []
    for v in raw:
        if not math.isfinite(v):
            out.append(math.nan)
            continue
        count += 1
        avg = (1 - weight) * avg + weight * v
        out.append(avg / -math.expm1(count * math.log1p(-weight)))
    return out


def stop_point(raw: Sequence[float], smoothed: Sequence[float], planned: int,
               threshold: float = 4.0) -> tuple[int, str]:  # fmt: skip
    """(points recorded, stop reason) under today's divergence rule."""
    grace = min(planned, max(3, planned // 20))
    best, high, high_before_best = math.inf, -math.inf, math.nan
    for i, (r, s) in enumerate(zip(raw, smoothed, strict=False)):
        seen = i + 1
        if not (math.isfinite(r) and math.isfinite(s)):
            return seen, "nan"
        high = max(high, s)
        if s < best:
            best, high_before_best = s, high
            continue
        if seen <= grace:
            continue
        if best > 0:
            if s > threshold * best:
                return seen, "diverged"
            continue
        scale = max(-best, high_before_best - best)
        if scale > 0 and s - best > (threshold - 1.0) * scale:
            return seen, "diverged"
    return len(raw), "completed"


def edges(n: int) -> tuple[int, int]:
    lo = min(n // 10, 10)
    trim = min(3, max(n - lo - 2, 0))
    return (lo, n - trim) if n - trim - lo >= 2 else (0, n)


def today(lrs: Sequence[float], raw: Sequence[float], planned: int, smoothing: float = 0.0,
          threshold: float = 4.0) -> Today:  # fmt: skip
    """Today's min_div_10 suggestion on the curve cut where today's stop rule cuts it."""
    smoothed = _ema(raw, smoothing)
    n, stop = stop_point(raw, smoothed, planned, threshold)
    lo, hi = edges(n)
    window = [i for i in range(lo, hi) if math.isfinite(smoothed[i]) and lrs[i] > 0]
    if len(window) < 2:
        return Today(None, n, stop)
    ys = [smoothed[i] for i in window]
    span = max(ys) - min(ys)
    if not span > 1e-9 * max(1.0, max(abs(y) for y in ys)):
        return Today(None, n, stop)
    best = min(window, key=smoothed.__getitem__)
    return Today(max(lrs[best] / 10.0, lrs[0]), n, stop)

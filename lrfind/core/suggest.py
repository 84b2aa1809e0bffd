"""Suggestion methods: pure functions from a loss curve to a learning rate.

Each takes `(lrs, losses)` (the smoothed loss, one value per swept LR), drops
non-finite points and the noisy edges, and returns a Suggestion, whose `lr` is
None with a `reason` when the curve cannot support one. None of them raises,
whatever the input.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lrfind.core.curve import edges


@dataclass(frozen=True)
class Suggestion:
    """One method's answer.

    Attributes:
        method: the registry name, e.g. "min_div_10".
        lr: the suggested learning rate, or None.
        index: the swept point nearest to `lr` (for marking tables and plots).
        reason: why there is no suggestion (None when there is one).
    """

    method: str
    lr: float | None
    index: int | None = None
    reason: str | None = None


Method = Callable[[Sequence[float], Sequence[float]], Suggestion]


def candidates(
    lrs: Sequence[float], losses: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indices, lrs, losses) of the finite points with LR > 0 inside the edge window."""
    n = min(len(lrs), len(losses))
    x = np.asarray(lrs[:n], dtype=float).reshape(-1)
    y = np.asarray(losses[:n], dtype=float).reshape(-1)
    lo, hi = edges(n)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    ok[:lo] = False
    ok[hi:] = False
    idx = np.flatnonzero(ok)
    return idx, x[idx], y[idx]


def curve_minimum(lrs: Sequence[float], losses: Sequence[float]) -> int | None:
    """Index of the minimum of the finite, edge-trimmed curve (first one on ties)."""
    idx, _, y = candidates(lrs, losses)
    return int(idx[np.argmin(y)]) if len(idx) else None


def min_div_10(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """One decade below the LR of the minimum loss, never below the start LR."""
    name = "min_div_10"
    _, x, y = candidates(lrs, losses)
    if (none := _unusable(name, y)) is not None:
        return none
    best = float(x[np.argmin(y)])
    lr = max(best / 10.0, _start_lr(lrs))
    return Suggestion(name, lr, nearest_index(lrs, lr))


def steepest(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """The LR where the loss falls fastest per decade (most negative d loss / d log lr)."""
    name = "steepest"
    _, x, y = candidates(lrs, losses)
    if (none := _unusable(name, y)) is not None:
        return none
    logx = np.log10(x)
    spacing = np.diff(logx)
    with np.errstate(all="ignore"):
        slope = np.gradient(y, logx) if np.all(spacing > 0) else np.gradient(y)
    slope = np.where(np.isfinite(slope), slope, np.inf)
    i = int(np.argmin(slope))
    if not slope[i] < 0:
        return Suggestion(name, None, reason="the loss never decreases")
    lr = float(x[i])
    return Suggestion(name, lr, nearest_index(lrs, lr))


def valley(lrs: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """Halfway along the longest decline of the curve (fastai's "valley" rule).

    The decline is measured as the longest strictly decreasing subsequence of
    the loss; its span is taken as that many points ending where the
    subsequence ends (noise on the plateau before it adds points scattered
    far back, which must not drag the valley towards tiny LRs). The middle of
    the span sits safely inside the region where the loss improves.
    """
    name = "valley"
    _, x, y = candidates(lrs, losses)
    if (none := _unusable(name, y)) is not None:
        return none
    length, end = _longest_decline(y)
    if length < 2:
        return Suggestion(name, None, reason="the loss never decreases")
    lr = float(x[end - length // 2])
    return Suggestion(name, lr, nearest_index(lrs, lr))


METHODS: dict[str, Method] = {"min_div_10": min_div_10, "steepest": steepest, "valley": valley}


def suggest_all(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, Suggestion]:
    """Every registered method's suggestion, by name."""
    return {name: method(lrs, losses) for name, method in METHODS.items()}


def nearest_index(lrs: Sequence[float], lr: float) -> int | None:
    """The index of the swept LR closest to `lr` on a log scale."""
    x = np.asarray(lrs, dtype=float).reshape(-1)
    with np.errstate(all="ignore"):
        distance = np.abs(np.log(x) - np.log(lr))
    distance = np.where(np.isfinite(distance), distance, np.inf)
    return int(np.argmin(distance)) if len(x) and np.isfinite(distance.min()) else None


def _unusable(name: str, y: np.ndarray) -> Suggestion | None:
    if len(y) < 2:
        what = "no finite loss values" if len(y) == 0 else "only one finite loss value"
        return Suggestion(name, None, reason=f"{what} to work with")
    with np.errstate(over="ignore"):  # max - min of huge values overflows to inf: fine
        span = float(y.max() - y.min())
    if not span > 1e-9 * max(1.0, float(np.abs(y).max())):
        return Suggestion(name, None, reason="the loss is flat: the LR has no visible effect")
    return None


def _start_lr(lrs: Sequence[float]) -> float:
    """The sweep's first LR (the first finite positive one, for odd inputs)."""
    x = np.asarray(lrs, dtype=float).reshape(-1)
    with np.errstate(invalid="ignore"):
        valid = x[np.isfinite(x) & (x > 0)]
    return float(valid[0])


def _longest_decline(y: np.ndarray) -> tuple[int, int]:
    """(length, last index) of the longest strictly decreasing subsequence of y.

    Patience sorting on -y, O(n log n), so long sweeps stay fast; ties go to
    the decline that is complete first.
    """
    tails: list[float] = []  # tails[k]: the smallest -y ending a decline of length k+1
    best_len, best_end = 0, 0
    for i, v in enumerate(-y):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
        else:
            tails[k] = v
        if k + 1 > best_len:
            best_len, best_end = k + 1, i
    return best_len, best_end

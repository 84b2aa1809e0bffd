"""The peers' published rules, replayed on recorded raw range-test curves.

Written from reading each project's source (fastai `callback/schedule.py` and
its `AvgSmoothLoss`; torch-lr-finder `LRFinder.range_test` / `plot`; Lightning
`tuner/lr_finder.py`; ignite `handlers/lr_finder.py` `FastaiLRFinder`), not
copied. Each replay takes the raw per-batch losses of a sweep that ran past
divergence and applies the peer's own smoothing, stop rule and suggestion, on
the sweep's LRs (the peers' schedules differ from lrfind's by at most one step
of the same exponential ramp). A peer does not stop on a NaN: it runs on with
NaN losses, so a curve that ended on a non-finite loss is padded with NaN to
the planned length before its rule sees it.

Every replay returns a `Replay`: the suggested LR (None where the peer raises
or returns nothing) and how many points its sweep would have recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Replay:
    lr: float | None
    points: int


def _pad(
    lrs: Sequence[float], raw: Sequence[float], planned: int
) -> tuple[list[float], list[float]]:
    """The curve a peer would see: after a non-finite loss, NaN up to the planned length."""
    xs, ys = list(lrs), list(raw)
    if ys and not math.isfinite(ys[-1]) and len(ys) < planned:
        start, end = xs[0], 10.0
        ratio = (end / start) ** (1 / (planned - 1))
        xs += [start * ratio**i for i in range(len(xs), planned)]
        ys += [math.nan] * (planned - len(ys))
    return xs, ys


def _ema_corrected(raw: Sequence[float], beta: float, offset: int = 0) -> list[float]:
    """fastai / Lightning smoothing: avg = beta avg + (1 - beta) loss, / (1 - beta^(i + 1 + offset))."""
    avg, out = 0.0, []
    for i, v in enumerate(raw):
        avg = beta * avg + (1 - beta) * v  # a NaN poisons every later value, as it does for them
        out.append(avg / (1 - beta ** (i + 1 + offset)))
    return out


def _ema_from_first(raw: Sequence[float], f: float) -> list[float]:
    """torch-lr-finder / ignite smoothing: the first loss as is, then f loss + (1 - f) previous."""
    out: list[float] = []
    for v in raw:
        out.append(v if not out else f * v + (1 - f) * out[-1])
    return out


def _stop_ratio(smoothed: Sequence[float], ratio: float) -> int:
    """Points recorded until smoothed > ratio x its best so far (that point included).

    The best is updated first, then compared, from the first point on: a negative first
    loss is above 4x (or 5x) itself, and all three peers stop there, as replayed.
    """
    best = math.inf
    for i, v in enumerate(smoothed):
        if i == 0 or v < best:
            best = v
        if v > ratio * best:
            return i + 1
    return len(smoothed)


# fastai ---------------------------------------------------------------------------------


def _fastai_curve(lrs: Sequence[float], raw: Sequence[float], planned: int):
    xs, ys = _pad(lrs, raw, planned)
    sm = _ema_corrected(ys, 0.98)
    n = _stop_ratio(sm, 4.0)
    # lr_find keeps recorder[num_it // 10 : -5] and cuts at the first NaN.
    x, y = np.array(xs[:n][planned // 10 : -5]), np.array(sm[:n][planned // 10 : -5])
    bad = np.flatnonzero(np.isnan(y))
    if len(bad):
        x, y = x[: bad[0]], y[: bad[0]]
    return x, y, n


def fastai_minimum(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    x, y, n = _fastai_curve(lrs, raw, planned)
    return Replay(float(x[np.argmin(y)]) / 10 if len(y) else None, n)


def fastai_steep(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    x, y, n = _fastai_curve(lrs, raw, planned)
    if len(y) < 2:
        return Replay(None, n)
    grads = np.diff(y) / np.diff(np.log(x))
    return Replay(float(x[np.argmin(grads)]), n)


def fastai_valley(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    """The longest decreasing run (as fastai counts it, O(n^2)); a point 1/3 + 1/6 along it."""
    x, y, n = _fastai_curve(lrs, raw, planned)
    if len(y) == 0:
        return Replay(None, n)
    m = len(y)
    lds = [1] * m
    max_start = max_end = 0
    for i in range(1, m):
        for j in range(i):
            if y[i] < y[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            # Checked inside the inner loop, as fastai does: the start is fixed by
            # the length at the moment this point first became the longest.
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return Replay(float(x[idx]), n)


# torch-lr-finder, Lightning, ignite ----------------------------------------------------------


def torch_lr_finder(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    """EMA 0.05 from the first loss, stop at 5x best, steepest np.gradient on [10:-5]."""
    xs, ys = _pad(lrs, raw, planned)
    sm = _ema_from_first(ys, 0.05)
    n = _stop_ratio(sm, 5.0)
    if n < 10 + 5 + 2:  # it raises "Need at least 17 iterations"
        return Replay(None, n)
    x, y = xs[:n][10:-5], np.array(sm[:n][10:-5])
    return Replay(float(x[int(np.argmin(np.gradient(y)))]), n)


def lightning(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    """Tuner.lr_find: beta 0.98 corrected by global_step + 1 (global_step counts the step just
    taken), stop at 4x best from the second step, steepest torch.gradient w.r.t. the LR on [10:-1]."""
    xs, ys = _pad(lrs, raw, planned)
    sm = _ema_corrected(ys, 0.98, offset=1)
    best, n = 0.0, len(sm)
    for i, v in enumerate(sm):
        step = i + 1
        if step > 1 and v > 4.0 * best:  # compared before the best is updated
            n = i + 1
            break
        if v < best or step == 1:
            best = v
    x, y = np.array(xs[:n][10:-1]), np.array(sm[:n][10:-1])
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(y) < 2:
        return Replay(None, n)
    with np.errstate(all="ignore"):
        grads = np.gradient(y, x)
    return Replay(float(x[int(np.argmin(grads))]), n)


def ignite(lrs: Sequence[float], raw: Sequence[float], planned: int) -> Replay:
    """FastaiLRFinder: smoothing 0.05 from the first loss, stop at 5x best; the steepest central
    difference on the part of the curve before its minimum (no trimming)."""
    xs, ys = _pad(lrs, raw, planned)
    sm = _ema_from_first(ys, 0.05)
    n = _stop_ratio(sm, 5.0)
    y = np.array(sm[:n])
    low = int(np.argmin(y))  # a NaN counts as the minimum, as in torch.argmin
    part = y[: low + 1]
    if len(part) < 3:  # it raises "unexpected curve shape"
        return Replay(None, n)
    grads = 0.5 * (part[2:] - part[:-2])
    return Replay(float(xs[int(np.argmin(grads)) + 1]), n)


PEERS: dict[str, Callable[[Sequence[float], Sequence[float], int], Replay]] = {
    "fastai minimum": fastai_minimum,
    "fastai valley (its default)": fastai_valley,
    "fastai steep": fastai_steep,
    "torch-lr-finder": torch_lr_finder,
    "Lightning": lightning,
    "ignite": ignite,
}

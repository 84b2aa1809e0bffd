"""The caveats a finished sweep's curve raises, each ending in what to do about it."""

from __future__ import annotations

import dataclasses
import itertools
import math

from lrfind.config.settings import SweepConfig
from lrfind.core.curve import edges
from lrfind.core.history import History
from lrfind.core.robust_suggest import NO_CURVE, RobustAnswer


def early(history: History, planned_steps: int) -> bool:
    """Whether the sweep ended in its first quarter, where the LR is still too small to
    explain a NaN or a blow-up (the data, the model or the noise are likelier)."""
    return history.steps_run < planned_steps // 4


def curve_warnings(
    history: History,
    min_index: int | None,
    planned_steps: int,
    ratio_stop: bool = False,
    advised: bool = False,
    linear: bool = False,
    lowered: str = "",
) -> list[str]:
    """Caveats about the curve, each ending in what to do about it.

    `advised`: the rule gave no suggestion and its reason already says what to do (a
    flat curve, where a lower --start-lr adds more of the flat part): no second advice
    about where the minimum lies.
    """
    n = history.steps_run
    warnings = []
    if history.stop_reason == "interrupted":
        warnings.append(f"interrupted after {n} of {planned_steps} steps: the curve is partial")
    if history.stop_reason == "nan" and n <= 1:
        warnings.append("the loss was NaN/inf from the first step: check the data, model and loss")
    elif history.stop_reason == "nan" and early(history, planned_steps):
        # So early the LR is tiny: a NaN there comes from the data or the model far more often.
        warnings.append(
            f"the loss turned NaN/inf at step {n} of {planned_steps} (lr {history.lrs[-1]:.3g}): "
            "so small an LR rarely does that; check the data (NaN or inf in the inputs or "
            "targets), the model and the loss (a log of 0, a division by 0) first"
        )
    if history.stop_reason == "diverged" and early(history, planned_steps):
        # Under the ratio rule, one noisy batch can look like a blow-up at an LR too small to
        # matter; the robust rule needs the median of 5 to rise, so raise its bar instead.
        fix = (
            "smooth it (--smoothing 0.05) or raise --diverge-threshold"
            if ratio_stop
            else "raise --stop-k (the noise scales of rise that stop the sweep)"
        )
        if linear and n > 1:  # the blow-up is real: step 2 is already near --end-lr's size
            fix = (
                f"likely a real blow-up, as linear steps jump from lr {history.lrs[0]:.3g} to "
                f"{history.lrs[1]:.3g} at once: sweep in exponential steps (--mode exp)"
            )
        noisy = "" if linear and n > 1 else "if the loss is noisy from batch to batch, "
        warnings.append(
            f"the sweep stopped as diverged after only {n} of {planned_steps} steps "
            f"(lr {history.lrs[-1]:.3g}): {noisy}{fix}"
        )
    elif history.stop_reason == "diverged" and lowered:  # a bar the user lowered stopped it
        warnings.append(
            f"the sweep stopped as diverged at step {n} (lr {history.lrs[-1]:.3g}) under "
            f"{lowered}: a lower bar stops on noise sooner; raise it if the loss was still falling"
        )
    finite = {v for v in history.losses if v == v and abs(v) != float("inf")}
    # A constant loss has no minimum to move, and a failed sweep's curve is cut short.
    if min_index is None or len(finite) == 1 or history.stop_reason == "error" or advised:
        return warnings
    lo, hi = edges(n)
    few = max(1, (hi - lo) // 20)
    if min_index < lo + few:
        warnings.append(
            f"the minimum is in the first points of the sweep (lr {history.lrs[min_index]:.3g}): "
            "lower --start-lr to see the curve before it"
        )
    elif history.stop_reason == "completed" and min_index >= hi - few:
        warnings.append(
            f"the loss never diverged and its minimum is at the end of the sweep "
            f"(lr {history.lrs[min_index]:.3g}): raise --end-lr"
        )
    return warnings


def nan_before_descent(
    answer: RobustAnswer, history: History, planned: int, lo_snr: float
) -> RobustAnswer:
    """No suggestion when the loss turned NaN in the first quarter of the sweep before it fell
    beyond its noise: at such LRs a NaN comes from the data or the model, and the few flat
    points before it hold no minimum (a suggestion from them is a dip of the noise)."""
    n, snr = history.steps_run, answer.detail.get("snr", 0.0)
    if answer.lr is None or history.stop_reason != "nan" or not early(history, planned):
        return answer
    if snr >= lo_snr:
        return answer
    # On so short a curve a steady fall inflates the noise scale (read from the steps'
    # differences), so the depth alone cannot tell; a real fall is also a trend: the losses'
    # rank correlation with the step is significantly negative (z under -2.05: 2% of noise).
    if _trend_z([y for y in history.losses if y == y and abs(y) != float("inf")]) < -2.05:
        return answer
    why = (
        f"{NO_CURVE}: the loss turned NaN/inf at step {n} (lr {history.lrs[-1]:.3g}) "
        f"before it fell measurably (a descent of {snr:.1f}x its noise)"
    )
    return dataclasses.replace(answer, lr=None, confidence="low", reasons=(why,))


def between_points(answer: RobustAnswer, lrs: list[float]) -> RobustAnswer:
    """No suggestion that lies between two swept LRs over a decade apart (linear steps near
    the start): the curve says nothing there."""
    lr = answer.lr
    if lr is None or len(lrs) < 2:
        return answer
    above = next((i for i, x in enumerate(lrs) if x >= lr), None)
    if above is None or above == 0 or lrs[above] / lrs[above - 1] <= 10:
        return answer
    # A short exponential sweep is as coarse everywhere (8 steps over 8 decades): only a gap
    # far wider than the sweep's usual step (linear steps near the start) leaves it blind.
    steps = sorted(b / a for a, b in itertools.pairwise(lrs) if a > 0)
    if math.log10(lrs[above] / lrs[above - 1]) <= 3 * math.log10(steps[len(steps) // 2]):
        return answer
    low, high = lrs[above - 1], lrs[above]
    why = (
        f"{NO_CURVE}: the suggestion {lr:.3g} lies between the swept LRs {low:.3g} and "
        f"{high:.3g}, where the curve has no point: sweep in exponential steps (--mode exp)"
    )
    return dataclasses.replace(answer, lr=None, confidence="low", reasons=(why,))


def _trend_z(ys: list[float]) -> float:
    """Spearman's rank correlation of `ys` with their order, as a z-score (0 for < 4 points)."""
    n = len(ys)
    if n < 4:
        return 0.0
    ranks = [0.0] * n
    for rank, i in enumerate(sorted(range(n), key=ys.__getitem__)):
        ranks[i] = float(rank)
    mean = (n - 1) / 2  # ranks are a permutation of the indices: the same mean and variance
    cov = sum((i - mean) * (r - mean) for i, r in enumerate(ranks))
    return cov / sum((i - mean) ** 2 for i in range(n)) * (n - 1) ** 0.5


def lowered_stop(config: SweepConfig) -> str:
    """The robust stop's settings set below their defaults, as the options name them."""
    if config.diverge_threshold is not None:
        return ""
    d = SweepConfig()
    low = [f"--stop-k {config.stop_k:g} (default {d.stop_k:g})"] * (config.stop_k < d.stop_k)
    if config.stop_fraction < d.stop_fraction:
        low.append(f"--stop-fraction {config.stop_fraction:g} (default {d.stop_fraction:g})")
    return " and ".join(low)

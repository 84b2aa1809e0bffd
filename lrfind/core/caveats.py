"""The caveats a finished sweep's curve raises, each ending in what to do about it."""

from __future__ import annotations

from lrfind.core.curve import edges
from lrfind.core.history import History


def curve_warnings(
    history: History,
    min_index: int | None,
    planned_steps: int,
    ratio_stop: bool = False,
    advised: bool = False,
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
    elif history.stop_reason == "nan" and n < planned_steps // 4:
        # So early the LR is tiny: a NaN there comes from the data or the model far more often.
        warnings.append(
            f"the loss turned NaN/inf at step {n} of {planned_steps} (lr {history.lrs[-1]:.3g}): "
            "so small an LR rarely does that; check the data (NaN or inf in the inputs or "
            "targets), the model and the loss (a log of 0, a division by 0) first"
        )
    if history.stop_reason == "diverged" and n < planned_steps // 4:
        # Under the ratio rule, one noisy batch can look like a blow-up at an LR too small to
        # matter; the robust rule needs the median of 5 to rise, so raise its bar instead.
        fix = (
            "smooth it (--smoothing 0.05) or raise --diverge-threshold"
            if ratio_stop
            else "raise --stop-k (the noise scales of rise that stop the sweep)"
        )
        warnings.append(
            f"the sweep stopped as diverged after only {n} of {planned_steps} steps "
            f"(lr {history.lrs[-1]:.3g}): if the loss is noisy from batch to batch, {fix}"
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

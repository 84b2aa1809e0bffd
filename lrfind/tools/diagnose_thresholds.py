"""The limits `diagnose`'s checks compare with, and the values that cannot mean anything."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrfind.errors import UsageError


@dataclass(frozen=True)
class Thresholds:
    """The limits each check compares with; the CLI options carry the same names.

    A fraction is of the loss's level where the loss stays positive, of its median |loss|
    where it goes below 0 (loss_math.signed_scale)."""

    #: Fraction of the points in the first and last windows compared (at least 1 point).
    window: float = 0.2
    #: Diverging: the last window's mean train loss is this much above the best before it.
    diverge_rise: float = 0.5
    #: Diverging: a loss (at or above the first one) this many times the highest loss
    #: after it: a blow-up, then a collapse to some level, often a dead network at chance.
    #: Below 0, where a ratio means nothing: this many median |loss| above it.
    spike: float = 10.0
    #: Stuck: the mean train loss fell by less than this fraction from first to last window
    #: (and it zig-zags by at most `oscillation`: a noisy flat loss is oscillating).
    stuck_drop: float = 0.05
    #: Oscillating: in the second half, the loss zig-zags by more than this fraction of its
    #: level, or of how far it fell to that level when that is more (a loss near 0).
    oscillation: float = 0.1
    #: Overfitting: the val loss ends this much above its minimum while the train loss falls.
    overfit_rise: float = 0.1
    #: Diverging: after falling, the loss climbs back this share of its fall (or ends above
    #: where it started after rising far above it): steps too large that did not recover.
    climb_back: float = 0.5


def check_thresholds(t: Thresholds) -> None:
    """UsageError, naming the option, for a threshold no log could be judged by."""
    if not 0 < t.window <= 0.5:
        raise UsageError(f"--window {t.window}: must be in (0, 0.5]")
    names = ("diverge_rise", "spike", "stuck_drop", "oscillation", "overfit_rise", "climb_back")
    for name in names:
        value = getattr(t, name)
        if name == "spike":  # below the highest loss after it is no spike: every run would fire
            if not (math.isfinite(value) and value >= 1):
                raise UsageError(
                    f"--spike {value}: must be a number >= 1 (a ratio to the losses after it)"
                )
        elif not (math.isfinite(value) and value >= 0):
            raise UsageError(f"--{name.replace('_', '-')} {value}: must be a number >= 0")
    if t.stuck_drop > 1:
        raise UsageError(f"--stuck-drop {t.stuck_drop}: must be a fraction, at most 1")

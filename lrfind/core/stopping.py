"""Which stop rule a sweep runs, and the robust rule's parameters, from the settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from lrfind.config.settings import SweepConfig
from lrfind.core.curve import DivergenceRule, grace_steps
from lrfind.core.robust import RobustRule, RobustStop


class StopRule(Protocol):
    """Fed one point per step; returns "nan", "diverged" or None (keep going)."""

    def update(self, raw: float, smoothed: float) -> str | None: ...


def robust_rule(config: SweepConfig) -> RobustRule:
    """The robust rule with the config's stop_k, stop_fraction and divisor."""
    return replace(
        RobustRule(), k=config.stop_k, fraction=config.stop_fraction, divisor=config.divisor
    )


def stop_rule(config: SweepConfig) -> StopRule:
    """The robust rule on the raw loss; with diverge_threshold set, lrfind 0.1's ratio rule
    on the smoothed loss (threshold x its best, after a grace of 5% of the steps)."""
    if config.diverge_threshold is not None:
        return DivergenceRule(config.diverge_threshold, grace_steps(config.steps))
    return RobustStop(robust_rule(config))

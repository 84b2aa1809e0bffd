"""The schedulers `lrfind schedule` knows: names, aliases and default arguments.

Each builder turns (lr, steps, the user's options) into a torch class name and
its keyword arguments; None in Options means "derive it from lr and steps".
Names resolve without torch, so an unknown name is an instant usage error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lrfind.errors import UsageError


@dataclass(frozen=True)
class Options:
    """Scheduler arguments given by the user; None means "derive it from lr and steps"."""

    step_size: int | None = None
    gamma: float | None = None
    milestones: tuple[int, ...] | None = None
    power: float | None = None
    eta_min: float | None = None
    t0: int | None = None
    t_mult: int | None = None
    pct_start: float | None = None
    div_factor: float | None = None
    final_div_factor: float | None = None
    anneal_strategy: str | None = None
    base_lr: float | None = None
    step_size_up: int | None = None
    cyclic_mode: str | None = None
    warmup_steps: int | None = None
    warmup_start_factor: float | None = None
    factor: float | None = None
    patience: int | None = None
    threshold: float | None = None
    #: The loss trace ReduceLROnPlateau is stepped with, one value per step.
    plateau_losses: tuple[float, ...] | None = None


# Option -> (test, what it must be), checked before any scheduler is built: torch
# divides by some of them (ZeroDivisionError) and tabulates negative LRs for others.
_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "step_size": (lambda v: v >= 1, "an integer >= 1"),
    "t0": (lambda v: v >= 1, "an integer >= 1"),
    "t_mult": (lambda v: v >= 1, "an integer >= 1"),
    "step_size_up": (lambda v: v >= 1, "an integer >= 1"),
    "warmup_steps": (lambda v: v >= 1, "an integer >= 1"),
    "patience": (lambda v: v >= 0, "an integer >= 0"),
    "gamma": (lambda v: v >= 0, "a number >= 0"),
    "power": (lambda v: v >= 0, "a number >= 0"),
    "eta_min": (lambda v: v >= 0, "a number >= 0"),
    "pct_start": (lambda v: 0 <= v <= 1, "a fraction from 0 to 1"),
    "div_factor": (lambda v: v > 0, "a number > 0"),
    "final_div_factor": (lambda v: v > 0, "a number > 0"),
    "base_lr": (lambda v: v > 0, "a number > 0"),
    "warmup_start_factor": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "factor": (lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "threshold": (lambda v: v >= 0, "a number >= 0"),
}


def check_options(o: Options) -> None:
    """UsageError for the first option no scheduler can take (named as the CLI spells it)."""
    for name, (ok, want) in _RULES.items():
        value = getattr(o, name)
        if value is not None and not (math.isfinite(value) and ok(value)):
            raise UsageError(f"--{name.replace('_', '-')} {value:g}: must be {want}")
    for m in o.milestones or ():
        if m < 1:
            raise UsageError(f"--milestones {m}: steps must be >= 1, e.g. 50,75")


def check_against(o: Options, lr: float, steps: int, what: str) -> None:
    """UsageError for an option that contradicts the LR or the run's length: a cycle whose
    low end is above its peak, a floor above the LR, a milestone after the last step.
    `what` names the LR as the user gave it ("--lr 0.1", "the report's LR 0.0046")."""
    if o.base_lr is not None and o.base_lr >= lr:
        raise UsageError(f"--base-lr {o.base_lr:g}: must be below the cycle's peak, {what}")
    if o.eta_min is not None and o.eta_min >= lr:
        raise UsageError(f"--eta-min {o.eta_min:g}: must be below the LR it anneals from, {what}")
    late = [m for m in o.milestones or () if m >= steps]
    if late:
        raise UsageError(
            f"--milestones {late[0]}: after the last of --steps {steps}: never reached"
        )


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


# Each builder returns (torch class name, keyword arguments); the optimizer comes first.
Builder = Callable[[float, int, Options], tuple[str, dict[str, Any]]]


def _step(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "StepLR", {"step_size": _pick(o.step_size, max(1, n // 3)), "gamma": _pick(o.gamma, 0.1)}


def _multistep(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    milestones = list(_pick(o.milestones, (n // 2, 3 * n // 4)))
    return "MultiStepLR", {"milestones": milestones, "gamma": _pick(o.gamma, 0.1)}


def _exponential(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    # By default the LR falls 100x over the run: gamma ** (n - 1) == 0.01.
    return "ExponentialLR", {"gamma": _pick(o.gamma, round(0.01 ** (1 / (n - 1)), 6))}


def _polynomial(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "PolynomialLR", {"total_iters": n - 1, "power": _pick(o.power, 1.0)}


def _cosine(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "CosineAnnealingLR", {"T_max": n - 1, "eta_min": _pick(o.eta_min, 0.0)}


def _restarts(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "CosineAnnealingWarmRestarts", {
        "T_0": _pick(o.t0, max(1, n // 4)),
        "T_mult": _pick(o.t_mult, 1),
        "eta_min": _pick(o.eta_min, 0.0),
    }


def _onecycle(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "OneCycleLR", {
        "max_lr": lr,
        "total_steps": n,
        "pct_start": _pick(o.pct_start, 0.3),
        "anneal_strategy": _pick(o.anneal_strategy, "cos"),
        "div_factor": _pick(o.div_factor, 25.0),
        "final_div_factor": _pick(o.final_div_factor, 1e4),
    }


def _cyclic(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "CyclicLR", {
        "base_lr": _pick(o.base_lr, lr / 10),
        "max_lr": lr,
        "step_size_up": _pick(o.step_size_up, max(1, n // 4)),
        "mode": _pick(o.cyclic_mode, "triangular"),
        "cycle_momentum": False,  # cycle the LR only, as `lrfind run`'s plan does
    }


def _plateau(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    return "ReduceLROnPlateau", {
        "mode": "min",
        "factor": _pick(o.factor, 0.1),
        "patience": _pick(o.patience, 10),
        "threshold": _pick(o.threshold, 1e-4),
    }


def _warmup_cosine(lr: float, n: int, o: Options) -> tuple[str, dict[str, Any]]:
    warmup = _pick(o.warmup_steps, max(1, n // 10))
    if o.warmup_steps is None and n < 3:  # the default warmup needs a step, and cosine one
        raise UsageError(f"--steps {n}: warmup_cosine needs at least 3 (a warmup, then cosine)")
    if not 1 <= warmup < n - 1:
        raise UsageError(f"--warmup-steps {warmup}: must be from 1 to steps - 2 ({n - 2})")
    return "SequentialLR", {
        "warmup": ("LinearLR", {"start_factor": _pick(o.warmup_start_factor, 0.01),
                                "end_factor": 1.0, "total_iters": warmup}),
        "cosine": ("CosineAnnealingLR", {"T_max": n - 1 - warmup,
                                         "eta_min": _pick(o.eta_min, 0.0)}),
        "milestones": [warmup],
    }  # fmt: skip


SCHEDULES: dict[str, Builder] = {
    "steplr": _step,
    "multisteplr": _multistep,
    "exponentiallr": _exponential,
    "polynomiallr": _polynomial,
    "cosineannealinglr": _cosine,
    "cosineannealingwarmrestarts": _restarts,
    "onecyclelr": _onecycle,
    "cycliclr": _cyclic,
    "warmup_cosine": _warmup_cosine,
    "reducelronplateau": _plateau,
}

# Friendlier names, compared without case, "-" or "_".
ALIASES: dict[str, str] = {
    "step": "steplr",
    "multistep": "multisteplr",
    "exp": "exponentiallr",
    "exponential": "exponentiallr",
    "poly": "polynomiallr",
    "polynomial": "polynomiallr",
    "cosine": "cosineannealinglr",
    "cosineannealing": "cosineannealinglr",
    "cosinerestarts": "cosineannealingwarmrestarts",
    "warmrestarts": "cosineannealingwarmrestarts",
    "sgdr": "cosineannealingwarmrestarts",
    "onecycle": "onecyclelr",
    "cyclic": "cycliclr",
    "clr": "cycliclr",
    "warmupcosine": "warmup_cosine",
    "warmup": "warmup_cosine",
    "plateau": "reducelronplateau",
    "reduceonplateau": "reducelronplateau",
}


def resolve_names(names: Sequence[str]) -> list[str]:
    """Canonical names (any case, aliases allowed); UsageError listing the valid ones."""
    keys = {_key(k): k for k in SCHEDULES} | {_key(a): c for a, c in ALIASES.items()}
    unknown = [n for n in names if _key(n) not in keys]
    if unknown:
        raise UsageError(
            f"unknown scheduler {', '.join(map(repr, unknown))}; choose from: "
            f"{', '.join(SCHEDULES)} (or {', '.join(ALIASES)})"
        )
    return list(dict.fromkeys(keys[_key(n)] for n in names))  # in order, once each


def _key(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")

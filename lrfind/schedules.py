"""The real torch.optim.lr_scheduler objects, stepped on a dummy optimizer.

Nothing here re-derives a scheduler's formula: each one is built with its
arguments, attached to SGD over one dummy parameter, and stepped; the LR is
read back from the param group before every step. So what `lrfind schedule`
shows is what that torch version does in a training loop.

Names resolve without torch (an unknown name is an instant usage error);
torch is imported only to build and step them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lrfind.errors import UsageError

MAX_STEPS = 100_000


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


@dataclass(frozen=True)
class Trace:
    """One scheduler's LR at every step, and the call that built it."""

    name: str
    lrs: list[float]
    call: str


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


def simulate(name: str, lr: float, steps: int, options: Options | None = None) -> Trace:
    """Build scheduler `name` (canonical) for base LR `lr` and record its LR over `steps` steps.

    Example:
        >>> simulate("steplr", 0.1, 6).lrs  # doctest: +SKIP
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    import torch

    o = options or Options()
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr {lr}: must be a number > 0")
    if not 2 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps {steps}: must be from 2 to {MAX_STEPS:,}")
    losses = o.plateau_losses
    if name == "reducelronplateau" and (losses is None or len(losses) < steps - 1):
        have = "none were given" if losses is None else f"the file has {len(losses)}"
        raise UsageError(
            f"reducelronplateau steps on a loss trace: --plateau-losses FILE with at least "
            f"{steps - 1} losses (one per step after the first); {have}"
        )
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)  # momentum: OneCycleLR/CyclicLR cycle it
    cls, kwargs = SCHEDULES[name](lr, steps, o)
    try:
        scheduler = _build(torch.optim.lr_scheduler, opt, cls, kwargs)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{cls} rejected its arguments: {e}") from None
    lrs = []
    for i in range(steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        if i < steps - 1:
            opt.step()  # no gradient: the parameter stays put; the step order is what counts
            if cls == "ReduceLROnPlateau":
                scheduler.step(losses[i])  # type: ignore[index]
            else:
                scheduler.step()
    return Trace(name, lrs, _call(cls, kwargs))


def _build(module: Any, opt: Any, cls: str, kwargs: dict[str, Any]) -> Any:
    if cls != "SequentialLR":
        return getattr(module, cls)(opt, **kwargs)
    parts = [getattr(module, c)(opt, **kw) for c, kw in (kwargs["warmup"], kwargs["cosine"])]
    return module.SequentialLR(opt, schedulers=parts, milestones=kwargs["milestones"])


def _call(cls: str, kwargs: dict[str, Any]) -> str:
    """The constructor call, ready to paste after `from torch.optim import lr_scheduler`."""
    if cls == "SequentialLR":
        parts = ", ".join(_call(c, kw) for c, kw in (kwargs["warmup"], kwargs["cosine"]))
        return f"SequentialLR(opt, schedulers=[{parts}], milestones={kwargs['milestones']})"
    args = ", ".join(f"{k}={_literal(v)}" for k, v in kwargs.items())
    return f"{cls}(opt, {args})"


def _literal(value: Any) -> str:
    """A float with 6 significant digits (what a user would type), anything else as repr."""
    return f"{value:.6g}" if isinstance(value, float) else repr(value)

"""The real torch.optim.lr_scheduler objects, stepped on a dummy optimizer.

Nothing here re-derives a scheduler's formula: each one is built with its
arguments, attached to SGD over one dummy parameter, and stepped; the LR is
read back from the param group before every step. So what `lrfind schedule`
shows is what that torch version does in a training loop. torch is imported
only inside `simulate`; the catalogue of names is lrfind.tools.schedulers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from lrfind.core.snippets import scheduler_call, sequential_call
from lrfind.errors import UsageError
from lrfind.tools.schedulers import SCHEDULES, Options, check_options

MAX_STEPS = 100_000


@dataclass(frozen=True)
class Trace:
    """One scheduler's LR at every step, and the call that built it."""

    name: str
    lrs: list[float]
    call: str


def simulate(name: str, lr: float, steps: int, options: Options | None = None) -> Trace:
    """Build scheduler `name` (canonical) for base LR `lr` and record its LR over `steps` steps.

    Example:
        >>> simulate("steplr", 0.1, 6).lrs  # doctest: +SKIP
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    o = options or Options()
    check_options(o)  # before torch loads: a bad option is an instant error
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
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)  # momentum: OneCycleLR/CyclicLR cycle it
    cls, kwargs = SCHEDULES[name](lr, steps, o)
    try:
        scheduler = _build(torch.optim.lr_scheduler, opt, cls, kwargs)
    except (ValueError, TypeError, ArithmeticError) as e:
        raise UsageError(f"{cls} rejected its arguments: {e}") from None
    lrs = []
    try:
        for i in range(steps):
            lrs.append(float(opt.param_groups[0]["lr"]))
            if i < steps - 1:
                opt.step()  # no gradient: the parameter stays put; the step order is what counts
                if cls == "ReduceLROnPlateau":
                    scheduler.step(losses[i])  # type: ignore[index]
                else:
                    scheduler.step()
    except (ValueError, TypeError, ArithmeticError) as e:  # torch checks some only when stepping
        raise UsageError(f"{cls} failed at step {len(lrs)} with its arguments: {e}") from None
    if not all(math.isfinite(x) for x in lrs):
        raise UsageError(f"{cls} gives a non-finite LR with these arguments: change them")
    return Trace(name, lrs, _call(cls, kwargs))


def _build(module: Any, opt: Any, cls: str, kwargs: dict[str, Any]) -> Any:
    if cls != "SequentialLR":
        return getattr(module, cls)(opt, **kwargs)
    parts = [getattr(module, c)(opt, **kw) for c, kw in (kwargs["warmup"], kwargs["cosine"])]
    return module.SequentialLR(opt, schedulers=parts, milestones=kwargs["milestones"])


def _call(cls: str, kwargs: dict[str, Any]) -> str:
    """The constructor call, written as `lrfind run`'s snippets write theirs."""
    if cls == "SequentialLR":
        return sequential_call([kwargs["warmup"], kwargs["cosine"]], kwargs["milestones"])
    return scheduler_call(cls, kwargs)

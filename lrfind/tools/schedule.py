"""The real torch.optim.lr_scheduler objects, stepped on a dummy optimizer.

Nothing here re-derives a scheduler's formula: each one is built with its
arguments, attached to SGD over one dummy parameter, and stepped; the LR is
read back from the param group before every step. So what `lrfind schedule`
shows is what that torch version does in a training loop. torch is imported
only inside the stepping; the catalogue of names is lrfind.tools.schedulers.

With --from-report, the three schedules `lrfind run` plans (one-cycle, cyclic,
warmup + cosine) are rebuilt by lrfind.core.plan.plan, the one function that
plans them, from what the report kept (`ReportPlan`); so both commands give the
same calls, per-group LR lists included. The options given replace planned values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lrfind.core.plan import Schedule, plan
from lrfind.core.snippets import GroupLRs, scheduler_call, sequential_call
from lrfind.errors import UsageError
from lrfind.tools.report_plan import MAX_STEPS, ReportPlan
from lrfind.tools.schedulers import SCHEDULES, Options, check_against, check_options

#: The schedulers `lrfind run` plans from the curve: CLI name -> the plan's name.
PLANNED = {"onecyclelr": "one_cycle", "cycliclr": "cyclic", "warmup_cosine": "warmup_cosine"}


@dataclass(frozen=True)
class Trace:
    """One scheduler's LR at every step, and the call that built it."""

    name: str
    lrs: list[float]
    call: str
    #: What the call alone does not say, e.g. "# optimizer lrs=[0.01, 0.1]".
    note: str = ""


def simulate(name: str, lr: float, steps: int, options: Options | None = None) -> Trace:
    """Build scheduler `name` (canonical) for base LR `lr` and record its LR over `steps` steps.

    Example:
        >>> simulate("steplr", 0.1, 6).lrs  # doctest: +SKIP
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    """
    o = _checked(options, steps)
    if not (math.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr {lr}: must be a number > 0")
    losses = o.plateau_losses
    if name == "reducelronplateau" and (losses is None or len(losses) < steps - 1):
        have = "none were given" if losses is None else f"the file has {len(losses)}"
        raise UsageError(
            f"reducelronplateau steps on a loss trace: --plateau-losses FILE with at least "
            f"{steps - 1} losses (one per step after the first); {have}"
        )
    check_against(o, lr, steps, f"--lr {lr:g}")
    cls, kwargs = SCHEDULES[name](lr, steps, o)
    return _step(name, cls, kwargs, [lr], steps, losses)


def simulate_planned(
    name: str, source: ReportPlan, steps: int, options: Options | None = None
) -> Trace:
    """Schedule `name` (one of PLANNED) as `lrfind run` plans it for `steps` steps, stepped.

    The options given replace the planned values; with param groups of different
    LRs the dummy optimizer has as many groups, and the trace is group 0's.

    Example:
        >>> source = ReportPlan(peak_lr=0.01, base_lr=0.002, max_lr=0.05, total_steps=1000)
        >>> simulate_planned("onecyclelr", source, 1000).call  # doctest: +SKIP
        'OneCycleLR(optimizer, max_lr=0.01, total_steps=1000, div_factor=10, ...)'
    """
    o = _checked(options, steps)
    check_against(o, source.peak_lr, steps, f"the report's LR {source.peak_lr:g}")
    made = plan([], [], source.peak_lr, steps, (source.base_lr, source.max_lr), source.ratios)
    if made is None:  # only a ReportPlan made by hand: report_plan checks what it reads
        raise UsageError(f"no schedules can be planned from {source}")
    schedule = made.schedules[PLANNED[name]]
    note = ""
    if name == "onecyclelr":
        cls, kwargs, lrs = _one_cycle(schedule, o)
    elif name == "cycliclr":
        cls, kwargs, lrs = _cyclic(schedule, o, source.groups)
    else:  # the optimizer's LRs are the peaks: the terminal of `lrfind run` says so too
        cls, kwargs, lrs = _warmup_cosine(schedule, o, steps)
        peaks = schedule.kwargs.get("group_peak_lrs")
        note = f"# optimizer lrs={peaks}" if peaks else f"# optimizer lr={made.peak_lr:.3g}"
    return _step(name, cls, kwargs, lrs, steps, None, note)


def _checked(options: Options | None, steps: int) -> Options:
    o = options or Options()
    check_options(o)  # before torch loads: a bad option is an instant error
    if not 2 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps {steps}: must be from 2 to {MAX_STEPS:,}")
    return o


def _step(
    name: str,
    cls: str,
    kwargs: dict[str, Any],
    group_lrs: Sequence[float],
    steps: int,
    losses: Sequence[float] | None,
    note: str = "",
) -> Trace:
    """Build `cls` on a dummy optimizer with one group per LR and record group 0's LR."""
    import torch

    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in group_lrs]
    opt = torch.optim.SGD(groups, lr=group_lrs[0], momentum=0.9)  # OneCycle/Cyclic cycle momentum
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
    return Trace(name, lrs, _call(cls, kwargs), note)


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


def _given(kwargs: dict[str, Any], **options: Any) -> dict[str, Any]:
    """`kwargs` with the options the user gave (not None) in place of the planned values."""
    return {**kwargs, **{k: v for k, v in options.items() if v is not None}}


def _lrs(value: float | list[float]) -> list[float]:
    return list(value) if isinstance(value, list) else [value]


def _one_cycle(s: Schedule, o: Options) -> tuple[str, dict[str, Any], list[float]]:
    kwargs = _given(
        s.kwargs,
        pct_start=o.pct_start,
        div_factor=o.div_factor,
        final_div_factor=o.final_div_factor,
        anneal_strategy=o.anneal_strategy,
    )
    return "OneCycleLR", kwargs, _lrs(kwargs["max_lr"])


def _cyclic(s: Schedule, o: Options, groups: GroupLRs) -> tuple[str, dict[str, Any], list[float]]:
    base = o.base_lr
    if base is not None and groups.differ:  # the headline (group 0's) bound, in the groups' ratios
        base = [base * r for r in groups.ratios]  # type: ignore[assignment]
    kwargs = _given(s.kwargs, base_lr=base, step_size_up=o.step_size_up, mode=o.cyclic_mode)
    return "CyclicLR", kwargs, _lrs(kwargs["base_lr"])


def _warmup_cosine(s: Schedule, o: Options, steps: int) -> tuple[str, dict[str, Any], list[float]]:
    linear = _given(s.kwargs["LinearLR"], start_factor=o.warmup_start_factor)
    cosine = _given(s.kwargs["CosineAnnealingLR"], eta_min=o.eta_min)
    milestones = list(s.kwargs["SequentialLR"]["milestones"])
    if o.warmup_steps is not None:  # laid out as lrfind.core.plan does: cosine over the rest
        if not 1 <= o.warmup_steps < steps - 1:
            raise UsageError(
                f"--warmup-steps {o.warmup_steps}: must be from 1 to steps - 2 ({steps - 2})"
            )
        linear["total_iters"], milestones = o.warmup_steps, [o.warmup_steps]
        cosine["T_max"] = steps - o.warmup_steps
    kwargs = {
        "warmup": ("LinearLR", linear),
        "cosine": ("CosineAnnealingLR", cosine),
        "milestones": milestones,
    }
    # The optimizer's LRs are the peaks (the snippet sets them): the warm-up scales them.
    return "SequentialLR", kwargs, _lrs(s.kwargs.get("group_peak_lrs") or s.kwargs["peak_lr"])

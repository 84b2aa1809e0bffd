"""The user's hooks on parameters and on the optimizer, and an LR scheduler's marks on the
optimizer: what the sweep's copy keeps of them.

deepcopy keeps a module's hooks but drops those on its parameters (`tensor.register_hook`)
and gives a copied optimizer empty step hooks. A gradient hook is part of the training (a
mask that trains only some rows of an embedding), so the copy's parameters get it again.
Optimizer step hooks and post-accumulate-grad hooks often act on the user's own objects (an
EMA model, the optimizers of an optimizer-in-backward loop): running them would change those,
so they stay off the copy and a note says so.

A scheduler that cycles the momentum (OneCycleLR, CyclicLR: cycle_momentum=True, their
default) writes its own momentum (or Adam's beta1) into the groups when it is built, the
top of its cycle, where the LR is lowest. The suggestion becomes the peak LR of such a
run, and at its peak the scheduler runs at its base momentum: the sweep runs there too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def carry_grad_hooks(model: nn.Module, memo: dict[int, Any]) -> None:
    """Register the gradient hooks of `model`'s parameters on their copies (found in the
    deepcopy's `memo`)."""
    for param in model.parameters():
        hooks = getattr(param, "_backward_hooks", None)
        twin = memo.get(id(param))
        if hooks and isinstance(twin, torch.Tensor) and twin is not param:
            for hook in list(hooks.values()):
                twin.register_hook(hook)


def unswept_hooks(model: nn.Module, optimizer: object) -> list[str]:
    """Notes for what the sweep does not run: an LR scheduler built on the optimizer, the
    optimizer's step hooks and the parameters' post-accumulate-grad hooks."""
    notes = []
    if isinstance(optimizer, torch.optim.Optimizer):
        if getattr(vars(optimizer).get("step"), "_wrapped_by_lr_sched", False):  # LRScheduler's
            notes.append(
                "an LR scheduler is built on the optimizer: set aside, as the range test sets "
                "the LR itself (from each group's initial_lr); lrfind's schedules come from the "
                "sweep"
            )
        pre = len(getattr(optimizer, "_optimizer_step_pre_hooks", ()) or ())
        post = len(getattr(optimizer, "_optimizer_step_post_hooks", ()) or ())
        if pre or post:
            notes.append(
                f"the optimizer's step hooks ({pre} pre, {post} post) are not run in the sweep: "
                "they may act on your own objects (an EMA model); a hook that shapes the "
                "update (a gradient mask) belongs on the parameters (p.register_hook)"
            )
    accumulate = sum(
        bool(getattr(p, "_post_accumulate_grad_hooks", None)) for p in model.parameters()
    )
    if accumulate:
        notes.append(
            f"{accumulate} parameters' post-accumulate-grad hooks (an optimizer in backward) are "
            "not run in the sweep: it steps its own optimizer"
        )
    return notes


def peak_momentum(optimizer: torch.optim.Optimizer) -> list[str]:
    """Set the momentum (or beta1) of each group a cycling scheduler marked to the momentum
    it runs at its peak LR (`base_momentum`); the Note that says so, if any group moved."""
    moved: list[tuple[int, float, float, float]] = []  # group, held, base, top
    for i, group in enumerate(optimizer.param_groups):
        base, top = group.get("base_momentum"), group.get("max_momentum")
        if not isinstance(base, float | int) or not isinstance(top, float | int):
            continue
        if isinstance(group.get("betas"), tuple | list):
            held = float(group["betas"][0])
            group["betas"] = (base, *group["betas"][1:])
        elif isinstance(group.get("momentum"), float | int):
            held = float(group["momentum"])
            group["momentum"] = base
        else:
            continue
        if held != base:
            moved.append((i, held, float(base), float(top)))
    if not moved:
        return []
    what = "beta1" if "betas" in optimizer.param_groups[moved[0][0]] else "momentum"
    if len({m[1:] for m in moved}) == 1 and len(moved) == len(optimizer.param_groups):
        _, held, base, top = moved[0]
        cycle = f"between {base:g} at the peak LR and {top:g}"
        runs = f"the sweep runs at {base:g}, where the suggested LR goes, not at the {held:g} "
        runs += "the groups held"
    else:
        cycle = "down to each group's base_momentum at the peak LR"
        runs = "the sweep runs each group at it: " + ", ".join(
            f"group {i} at {base:g} (it held {held:g})" for i, held, base, _ in moved
        )
    return [
        f"the LR scheduler built on the optimizer cycles its {what} {cycle} "
        f"(cycle_momentum=True): {runs}; build the scheduler with cycle_momentum=False to "
        "sweep the optimizer's own"
    ]

"""The optimizer's param groups as the sweep scales them: their LR ratios, and what they say."""

from __future__ import annotations

import torch
from torch import nn

from lrfind.errors import SpecError


def group_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each param group's LR as a multiple of the headline LR; the sweep keeps these.

    The headline LR is group 0's base LR. A group's base is its "initial_lr"
    when a scheduler has set one (the LR before the scheduler changed it: a
    warmup may have set "lr" to 0 already), else its "lr"; timm's layer-wise
    decay multiplies it by the group's "lr_scale", as timm's schedulers do.
    """
    groups = optimizer.param_groups
    name = type(optimizer).__name__
    if any("lr" not in g for g in groups):
        raise SpecError(
            f"{name}'s param groups have no 'lr', and a range test sets each group's 'lr': "
            "sweep an optimizer that has one (--optimizer adam, sgd, ...)"
        )
    if any(g.get("initial_lr", g["lr"]) is None for g in groups):  # Adafactor's relative step
        # transformers' Adafactor refuses an lr while relative_step is on (its default).
        given = "lr=1e-3, relative_step=False" if "relative_step" in groups[0] else "lr=1e-3"
        if "relative_step" in groups[0] and "scale_parameter" in groups[0]:
            given += ", scale_parameter=False, warmup_init=False"
        raise SpecError(
            f"{name} has lr=None (it sets its own step size, a relative step), and a range "
            f"test sets the LR: give it a fixed one ({name}(params, {given})) or sweep "
            "another (--optimizer adamw)"
        )
    bases = [float(g.get("initial_lr", g["lr"])) for g in groups]
    scales = [float(g.get("lr_scale", 1.0)) for g in groups]
    if bases[0] <= 0 and any(b > 0 for b in bases):
        frozen = _frozen(groups[0])
        fix = (
            "; give the frozen group the LR it is to train at once unfrozen (its ratio to the "
            "others is kept), or leave it out of the optimizer"
            if frozen
            else ", so group 0 must train; put a trainable group first, or freeze with "
            "requires_grad=False"
        )
        what = " (it is frozen)" if frozen else ""
        raise SpecError(
            f"{name}'s param group 0 has lr 0{what} and another has not: the sweep scales "
            f"every group by group 0's LR{fix}"
        )
    if bases[0] <= 0:  # every group at 0 (a warmup's start without initial_lr): as given
        bases = [1.0] * len(groups)
    return [base / bases[0] * scale for base, scale in zip(bases, scales, strict=True)]


def frozen_headline(optimizer: torch.optim.Optimizer, ratios: list[float]) -> str | None:
    """A note when group 0, whose LR is the headline, trains nothing (all requires_grad=False:
    a backbone frozen for now beside a head at a higher LR)."""
    groups = optimizer.param_groups
    if not _idle(groups[0]):
        return None
    trains = next((i for i, g in enumerate(groups) if not _idle(g)), None)
    if trains is None or (not groups[0]["params"] and ratios[trains] == 1):
        return None  # an empty group 0 at the LR that trains changes nothing shown
    what = "is frozen (requires_grad=False)" if groups[0]["params"] else "holds no parameters"
    return (
        f"param group 0 {what}: the LRs shown are its own, and group "
        f"{trains}, the first that trains, ran at {ratios[trains]:.3g} x them"
    )


def _frozen(group: dict) -> bool:
    return bool(group["params"]) and not any(p.requires_grad for p in group["params"])


def _idle(group: dict) -> bool:
    """Trains nothing: frozen, or empty (a group a script fills later)."""
    return not any(p.requires_grad for p in group["params"])


def check_trains(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    """SpecError when the optimizer holds only frozen parameters while the model has others
    that train: an optimizer built before freezing, or before get_peft_model (PEFT)."""
    held = [p for group in optimizer.param_groups for p in group["params"]]
    if not held or any(p.requires_grad for p in held):
        return
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    raise SpecError(
        f"the optimizer holds only frozen parameters (requires_grad=False), none of the "
        f"model's {trainable:,} trainable ones: build it over "
        "[p for p in model.parameters() if p.requires_grad], after freezing (or get_peft_model)"
    )

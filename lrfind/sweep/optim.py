"""The sweep's private copy of the model, and the optimizer that drives it."""

from __future__ import annotations

import copy

import torch
from torch import nn

from lrfind.config.settings import OPTIMIZERS, SweepConfig
from lrfind.errors import SpecError, UsageError, user_code
from lrfind.sweep.mistakes import check_copy
from lrfind.sweep.task import Task


def prepare(
    task: Task, config: SweepConfig, device: torch.device
) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Deep-copy the model to `device` in train mode and build its optimizer.

    Precedence for the optimizer: a name in `config` > what build returned >
    SGD with momentum 0.9. An Optimizer instance from build is copied together
    with the model (one deepcopy, so its parameters map onto the copy's) with
    its param groups, hyperparameters and state.
    """
    given = task.optimizer if isinstance(task.optimizer, torch.optim.Optimizer) else None
    try:
        model, optimizer = copy.deepcopy((task.model, given))
    except Exception as e:
        raise check_copy(e, task.model) from e
    with user_code(f"moving the model to {device}"):
        model.to(device)
        model.train()
    if not any(p.requires_grad for p in model.parameters()):
        raise SpecError(
            "the model has no trainable parameters (none has requires_grad=True): "
            "unfreeze at least one layer"
        )
    if optimizer is not None:
        _check_owned(optimizer, model)
        if optimizer.state:
            optimizer.load_state_dict(optimizer.state_dict())  # moves the state to `device`
    elif task.optimizer is not None:
        optimizer = _call_factory(task.optimizer, model)

    if config.optimizer is not None:
        optimizer = _named(config, model, optimizer)
    elif optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.start_lr, momentum=0.9)
    return model, optimizer


def group_ratios(optimizer: torch.optim.Optimizer) -> list[float]:
    """Each param group's LR as a multiple of group 0's; the sweep keeps these."""
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    if lrs[0] <= 0:
        return [1.0] * len(lrs)
    return [lr / lrs[0] for lr in lrs]


def _call_factory(factory: object, model: nn.Module) -> torch.optim.Optimizer:
    try:
        optimizer = factory(model.parameters())  # type: ignore[operator]
    except Exception as e:
        raise SpecError(
            f"the optimizer factory raised {type(e).__name__}: {e}; it is called as "
            "factory(model.parameters())"
        ) from e
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise SpecError(
            f"the optimizer factory returned a {type(optimizer).__name__}, not a "
            "torch.optim.Optimizer"
        )
    return optimizer


def _named(
    config: SweepConfig, model: nn.Module, current: torch.optim.Optimizer | None
) -> torch.optim.Optimizer:
    """Build the optimizer named in the config, keeping current param groups' LR ratios."""
    name = config.optimizer or "sgd"
    cls = getattr(torch.optim, OPTIMIZERS[name], None)
    if cls is None:
        raise UsageError(f"optimizer {name!r} is not in torch {torch.__version__}")
    if current is not None:
        groups = [{"params": g["params"], "lr": float(g["lr"])} for g in current.param_groups]
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    kwargs = dict(config.optimizer_kwargs)
    if name == "sgd":
        kwargs.setdefault("momentum", 0.9)  # the default optimizer's momentum, unless set
    try:
        return cls(groups, lr=config.start_lr, **kwargs)
    except (TypeError, ValueError) as e:
        raise UsageError(
            f"optimizer {name} rejects its arguments {kwargs} ({e}): fix the [optimizer] table"
        ) from None


def _check_owned(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    owned = {id(p) for p in model.parameters()}
    for group in optimizer.param_groups:
        if any(id(p) not in owned for p in group["params"]):
            raise SpecError(
                "the optimizer build returned holds parameters that are not the model's: "
                "build it on the returned model, or return a factory instead"
            )

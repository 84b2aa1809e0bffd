"""The sweep's private copy of the model, and the optimizer that drives it."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable

import torch
from torch import nn

from lrfind.config.settings import OPTIMIZERS, SweepConfig
from lrfind.errors import SpecError, UsageError, user_code
from lrfind.sweep.adapters.accelerate import unwrapped
from lrfind.sweep.adapters.base import ModelOptimizer
from lrfind.sweep.copy_setup import kept_in_eval
from lrfind.sweep.groups import check_trains
from lrfind.sweep.mistakes import check_copy
from lrfind.sweep.param_hooks import carry_grad_hooks
from lrfind.sweep.task import Task

DEFAULT_ORIGIN = "lrfind's default"


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
    memo: dict[int, object] = {}
    try:
        model, optimizer = copy.deepcopy((task.model, given), memo)
    except Exception as e:
        raise check_copy(e, task.model) from e
    if given is not None and optimizer is not None:
        _copy_dropped(given, optimizer, memo)
        optimizer = unwrapped(optimizer)  # accelerate's steps only when its flag says so
    carry_grad_hooks(task.model, memo)
    if task.stack is not None and task.stack.on_copy is not None:
        task.stack.on_copy(model)  # Lightning's setup hooks, on the copy, before it moves
    with user_code(f"moving the model to {device}"):
        model.to(device)
        keep = kept_in_eval(model) if task.stack is None else task.stack.keeps_modes
        if not keep:  # a plain model's deliberate mix of modes stays (lrfind.sweep.copy_setup)
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
        trainable = [p for p in model.parameters() if p.requires_grad]  # a PeftModel's few
        optimizer = torch.optim.SGD(trainable, lr=config.start_lr, momentum=0.9)
    _check_no_closure(optimizer)
    check_trains(optimizer, model)
    return model, optimizer


def gradient_clipper(
    config: SweepConfig, optimizer: torch.optim.Optimizer, model: nn.Module | None = None
) -> Callable[[], object] | None:
    """`clip()` for --clip-grad (norm or value, over every parameter the optimizer steps, or
    over all of `model`'s when given: a Trainer's way), or None when clipping is off."""
    if not config.clip_grad:
        return None
    params = [p for group in optimizer.param_groups for p in group["params"]]
    params = params if model is None else list(model.parameters())
    size = float(config.clip_grad)
    if config.clip_mode == "value":
        return functools.partial(nn.utils.clip_grad_value_, params, size)
    return functools.partial(nn.utils.clip_grad_norm_, params, size)


def optimizer_origin(task: Task, config: SweepConfig) -> str:
    """Where the sweep's optimizer comes from, in prepare's order of precedence."""
    if config.optimizer is not None:
        groups = ", on build's param groups" if task.optimizer is not None else ""
        return f"named in the settings{groups}"
    if task.stack is not None and task.stack.optimizer_by is not None:
        return task.stack.optimizer_by
    if isinstance(task.optimizer, ModelOptimizer):
        return task.optimizer.origin
    if task.optimizer is not None:
        if task.stack is not None:
            return f"from the {task.stack.name}"
        return "given to find_lr" if task.given_by == "find_lr" else "from build"
    return DEFAULT_ORIGIN


def _call_factory(factory: object, model: nn.Module) -> torch.optim.Optimizer:
    if isinstance(factory, ModelOptimizer):  # a Trainer's or Lightning's: built on the copy itself
        optimizer = factory.build(model)
        _check_owned(optimizer, model)
        return optimizer
    wants_model = _takes_model(factory)
    try:
        try:
            optimizer = factory(model if wants_model else model.parameters())  # type: ignore[operator]
        except (AttributeError, TypeError) as e:
            # `lambda m: AdamW(m.parameters())` reads the params' generator as a model.
            if wants_model or not str(e).startswith("'generator' object"):
                raise
            optimizer = factory(model)  # type: ignore[operator]
    except Exception as e:
        raise SpecError(
            f"the optimizer factory raised {type(e).__name__}: {e}; it is called as "
            "factory(model.parameters()), or factory(model) when its first parameter is "
            "named model"
        ) from e
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise SpecError(
            f"the optimizer factory returned a {type(optimizer).__name__}, not a "
            "torch.optim.Optimizer"
        )
    _check_owned(optimizer, model, "the optimizer factory returned an optimizer over")
    return optimizer


_MODEL_NAMES = frozenset({"model", "module", "net", "network", "model_or_params"})


def _takes_model(factory: object) -> bool:
    """Whether a factory is written as factory(model), as timm's create_optimizer_v2 (whose
    decay / no-decay split needs the model) and many training scripts are: by its first
    parameter's name or annotation. A class such as torch.optim.AdamW takes `params`."""
    try:
        parameters = list(inspect.signature(factory).parameters.values())  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a C-level callable: the documented params form
        return False
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return False
    first = parameters[0]
    annotation = first.annotation
    if isinstance(annotation, type) and issubclass(annotation, nn.Module):
        return True
    if isinstance(annotation, str) and annotation.rsplit(".", 1)[-1] == "Module":
        return True
    return first.name in _MODEL_NAMES


def _named(
    config: SweepConfig, model: nn.Module, current: torch.optim.Optimizer | None
) -> torch.optim.Optimizer:
    """Build the optimizer named in the config, keeping current param groups' LR ratios."""
    name = config.optimizer or "sgd"
    cls = getattr(torch.optim, OPTIMIZERS[name], None)
    if cls is None:
        raise UsageError(
            f"optimizer {name!r} is not in torch {torch.__version__}", setting="optimizer"
        )
    kwargs = dict(config.optimizer_kwargs)
    if current is not None:
        # The groups keep what sets them apart: their LRs (and timm's lr_scale), and their
        # weight decays where they differ (a Trainer's decay / no-decay split) unless
        # [optimizer] sets one.
        decays = {repr(g.get("weight_decay")) for g in current.param_groups}
        split = len(decays) > 1 and "weight_decay" not in kwargs
        keep = ("initial_lr", "lr_scale") + (("weight_decay",) if split else ())
        groups = [_group_copy(g, keep) for g in current.param_groups]
    else:
        groups = [{"params": [p for p in model.parameters() if p.requires_grad]}]
    if name == "sgd":
        kwargs.setdefault("momentum", 0.9)  # the default optimizer's momentum, unless set
    try:
        return cls(groups, lr=config.start_lr, **kwargs)
    except Exception as e:  # its groups are lrfind's: any failure is the kwargs' (betas=[0.9])
        raise UsageError(
            f"optimizer {name} rejects its arguments {kwargs} ({e}): fix the [optimizer] table",
            setting="optimizer_kwargs",
        ) from None


def _group_copy(group: dict, keep: tuple[str, ...]) -> dict:
    """A param group for the named optimizer: its params, its lr (unless None, a relative
    step: the LR is then the sweep's own) and the `keep` keys it has."""
    out = {"params": group["params"], **{k: group[k] for k in keep if group.get(k) is not None}}
    if group.get("lr") is not None:
        out["lr"] = float(group["lr"])
    return out


def _copy_dropped(given: torch.optim.Optimizer, copied: torch.optim.Optimizer, memo: dict) -> None:
    """Copy what Optimizer.__getstate__ leaves out (defaults, state and groups are all it
    keeps): a wrapper's inner optimizer, such as timm's Lookahead `_base_optimizer`.

    With the model's memo, so the inner optimizer's params and groups are the copy's.
    One that cannot be copied stays out, as before; so does an instance attribute that
    shadows a method: an LR scheduler's `step` wrapper calls the optimizer it was built on,
    and copied it would step the user's optimizer (and model) instead of the copy.
    """
    for key, value in vars(given).items():
        if key not in vars(copied) and not hasattr(type(given), key):
            try:
                vars(copied)[key] = copy.deepcopy(value, memo)
            except Exception:  # left out, as deepcopy alone leaves it
                continue


def _check_owned(optimizer: torch.optim.Optimizer, model: nn.Module, factory: str = "") -> None:
    owned = {id(p) for p in model.parameters()}
    for group in optimizer.param_groups:
        if not any(id(p) not in owned for p in group["params"]):
            continue
        if factory:  # it closes over the model build returned (nanoGPT's configure_optimizers)
            raise SpecError(
                f"{factory} parameters that are not those of the model it was given (does it "
                "close over the model build returned?): build it from its argument, "
                "factory(model.parameters()) or factory(model)"
            )
        raise SpecError(
            "the optimizer build returned holds parameters that are not the model's: "
            "build it on the returned model, or return a factory instead"
        )


def _check_no_closure(optimizer: torch.optim.Optimizer) -> None:
    """An optimizer whose step() needs a closure (LBFGS) cannot be swept: say so up front."""
    try:
        closure = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):  # a C-level step has no signature: assume it is plain
        return
    if closure is not None and closure.default is inspect.Parameter.empty:
        name = type(optimizer).__name__
        raise SpecError(
            f"{name}.step() needs a closure (it re-evaluates the loss within a step, a line "
            "search), so one step is not one LR: sweep the first-order optimizer you would "
            "tune an LR for (--optimizer adam, sgd, ...) or return one from build"
        )

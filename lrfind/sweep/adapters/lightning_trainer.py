"""What the sweep takes from the user's Lightning Trainer: its clipping, accumulation and
precision, and the fine-tuning callbacks that freeze part of the module as fit() starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from lrfind.errors import SpecError, user_code
from lrfind.sweep.adapters.base import Setting, Stack, has_class
from lrfind.sweep.adapters.lightning_steps import ROOTS

_FINETUNING = tuple((f"{root}.callbacks.finetuning", "BaseFinetuning") for root in ROOTS)
_ACCUMULATION = tuple(
    (f"{root}.callbacks.gradient_accumulation_scheduler", "GradientAccumulationScheduler")
    for root in ROOTS
)
# Lightning's precision names -> lrfind's autocast (the "-true" ones cast the weights instead).
_AMP = {"bf16-mixed": "bf16", "bf16": "bf16", "16-mixed": "fp16", "16": "fp16"}
_FULL = {"32-true", "32", None}


def freeze_first(
    trainer: Any, stack: Stack, from_module: Callable[[Any], list[Any]] | None
) -> None:
    """Run the fine-tuning callbacks' freeze_before_training on the copy, as fit() does.

    BackboneFinetuning and the user's BaseFinetuning freeze part of the module in their
    setup(), which Lightning runs as fit() starts, before the module's own setup and
    configure_optimizers. They come from the Trainer's callbacks and, with `from_module`,
    from the copy's configure_callbacks(), as fit() adds those.
    """
    given = [c for c in getattr(trainer, "callbacks", None) or () if has_class(c, *_FINETUNING)]
    if not given and from_module is None:
        return
    after = stack.on_copy

    def frozen_first(steps: nn.Module) -> None:
        copy = steps.module  # type: ignore[union-attr]
        made = [] if from_module is None else from_module(copy)
        callbacks = given + [c for c in made if has_class(c, *_FINETUNING)]
        for callback in callbacks:
            with user_code(f"{type(callback).__name__}.freeze_before_training()", SpecError):
                callback.freeze_before_training(copy)
        if callbacks:
            names = ", ".join(type(c).__name__ for c in callbacks)
            said = f"{names}'s freeze_before_training (its later unfreezing is not swept)"
            if said not in stack.took:  # once, also over --repeats
                stack.took.append(said)
        if after is not None:
            after(steps)

    stack.on_copy = frozen_first


def trainer_settings(trainer: Any, stack: Stack) -> dict[str, Setting]:
    """gradient_clip_val, accumulate_grad_batches (or its GradientAccumulationScheduler) and
    precision of an unfitted Lightning Trainer."""
    out = {}
    clip = getattr(trainer, "gradient_clip_val", None)
    if clip:
        algorithm = getattr(trainer, "gradient_clip_algorithm", None)
        mode = str(getattr(algorithm, "value", algorithm) or "norm")
        out["clip_grad"] = Setting(float(clip), f"gradient_clip_val {float(clip):g}")
        out["clip_mode"] = Setting(mode, f"gradient_clip_algorithm {mode}")
    accumulation = _accumulation(trainer, stack)
    if accumulation is not None:
        out["accumulate"] = accumulation
    precision = getattr(trainer, "precision", None)
    if precision in _AMP:
        out["amp"] = Setting(_AMP[precision], f"precision {precision}")
    elif precision not in _FULL:
        aside = f"precision {precision} (the sweep runs in float32; --amp bf16 autocasts)"
        if str(precision).startswith("64"):  # double precision: no autocast gives that
            aside = f"precision {precision} (the sweep runs in the module's dtype: .double() it)"
        stack.set_aside.append(aside)
    stack.set_aside.append("the Trainer's loop (fit is never called: callbacks, loggers)")
    return out


def _accumulation(trainer: Any, stack: Stack) -> Setting | None:
    """The batches fit() accumulates per step from its first: accumulate_grad_batches, or
    the first epoch's factor of a GradientAccumulationScheduler callback.

    Lightning forbids both together, and with the callback accumulate_grad_batches stays 1
    until fit's first epoch starts (then it holds the callback's latest factor), so the
    callback, when there is one, is what the first steps of fit() accumulate by.
    """
    given = [c for c in getattr(trainer, "callbacks", None) or () if has_class(c, *_ACCUMULATION)]
    if not given:
        steps = getattr(trainer, "accumulate_grad_batches", 1)
        if isinstance(steps, int) and steps > 1:
            return Setting(steps, f"accumulate_grad_batches {steps}")
        return None
    scheduler = given[0]
    name = type(scheduler).__name__
    with user_code(f"{name}.get_accumulate_grad_batches(0)", SpecError):
        steps = int(scheduler.get_accumulate_grad_batches(0))
    schedule = getattr(scheduler, "scheduling", None) or {}
    changes: list[str] = []
    now = steps
    for epoch, factor in sorted(schedule.items()):
        if epoch > 0 and factor != now:
            changes.append(f"{factor} from epoch {epoch}")
            now = factor
    if changes:  # a range test is short: it trains as the first epoch does
        said = ", ".join(changes)
        stack.set_aside.append(f"{name}'s later factors ({said}: the sweep is epoch 0)")
    return Setting(steps, f"{name} {steps} at epoch 0") if steps > 1 else None

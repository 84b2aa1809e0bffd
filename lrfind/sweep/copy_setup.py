"""How the sweep's copy is set up, beyond the model and the optimizer: its train / eval
modes, a loss with state, channels-last, and the Notes on what the copy leaves out.

Modes: model.train(), unless build left a mix on purpose. A model with some submodules in
train mode and others in eval mode (a backbone frozen with `.eval()` so that its BatchNorm
keeps its running statistics, a head's Dropout turned off) was set so deliberately: a
fresh model is wholly in train mode. model.train() would undo it, and the sweep would
train something the user's loop does not (BatchNorm on batch statistics, moving running
buffers, a batch of one failing). Such a copy of a plain model keeps its modes and a Note
says which; a model wholly in eval mode (left so after an evaluation) is put in train
mode. A Trainer's copy goes to train mode as Trainer.train() puts it; a LightningModule's
keeps its modes, as fit() does.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
from torch import nn

from lrfind.errors import UsageError
from lrfind.sweep.adapters.accelerate import accelerated_notes
from lrfind.sweep.param_hooks import unswept_hooks
from lrfind.sweep.task import Task

FP16_PARAMS = (
    "--amp fp16 autocasts a float32 model and scales its gradients; this model's parameters "
    "are float16 already: return it in float32 (model.float()), or drop --amp"
)


def kept_in_eval(model: nn.Module) -> list[str]:
    """The outermost submodules in eval mode, when some others train ([]: not a mix)."""
    modes = {m.training for m in model.modules()}
    if len(modes) < 2:
        return []
    kept: list[str] = []
    for name, module in model.named_modules():
        if name and not module.training and not any(name.startswith(k + ".") for k in kept):
            kept.append(name)
    return kept


def modes_note(model: nn.Module) -> list[str]:
    """The Note for the submodules kept in eval mode, if any."""
    kept = kept_in_eval(model)
    if not kept:
        return []
    modules = dict(model.named_modules())
    named = ", ".join(f"{k} ({type(modules[k]).__name__})" for k in kept[:3])
    named += f" and {len(kept) - 3} more" if len(kept) > 3 else ""
    them = "it" if len(kept) == 1 else "them"
    return [
        f"kept {named} in eval mode, as build left {them}: BatchNorm there normalises with "
        "its running statistics and Dropout is off, as in a loop that never calls "
        "model.train(); call model.train() in build to sweep the whole model in train mode"
    ]


def copy_notes(task: Task) -> list[str]:
    """The Notes on the copy: hooks not run, an AcceleratedOptimizer unwrapped, modes kept."""
    notes = [*unswept_hooks(task.model, task.optimizer), *accelerated_notes(task.optimizer)]
    return notes + (modes_note(task.model) if task.stack is None else [])  # else: its trainer's


def loss_copy(task: Task, device: torch.device) -> Task:
    """The task with a copy of its loss_fn on `device`, when it is a module with state.

    CrossEntropyLoss(weight=...) from the CPU must meet the GPU's logits; a loss whose buffers
    change in forward (DINO's centre) must leave the user's as they were. Else: as is.
    """
    loss = task.loss_fn
    if not isinstance(loss, nn.Module) or next(loss.buffers(), None) is None:
        return task
    try:
        return dataclasses.replace(task, loss_fn=copy.deepcopy(loss).to(device))
    except Exception:
        return task


def channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """--channels-last: torch applies it to every 4-d parameter and refuses a 5-d one."""
    five = next(
        (
            type(m).__name__
            for m in model.modules()
            if any(p.dim() == 5 for p in m.parameters(False))
        ),
        None,
    )
    if five is not None:  # Conv3d (video models): channels_last_3d, not lrfind's option
        raise UsageError(
            f"--channels-last is for 2-d conv nets (4-d weights); this model has 5-d weights "
            f"({five}): drop --channels-last",
            setting="channels_last",
        )
    return model.to(memory_format=torch.channels_last)

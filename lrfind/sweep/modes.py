"""The copy's train / eval modes: model.train(), unless build left a mix on purpose.

A model with some submodules in train mode and others in eval mode (a backbone frozen
with `.eval()` so that its BatchNorm keeps its running statistics, a head's Dropout turned
off) was set so deliberately: a fresh model is wholly in train mode. model.train() would
undo it, and the sweep would train something the user's loop does not (BatchNorm on batch
statistics, moving running buffers, a batch of one failing). Such a copy of a plain model
keeps its modes and a Note says which; a model wholly in eval mode (left so after an
evaluation) is put in train mode. A Trainer's copy goes to train mode as Trainer.train()
puts it; a LightningModule's keeps its modes, as fit() does.
"""

from __future__ import annotations

from torch import nn


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

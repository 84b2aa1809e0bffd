"""The mistakes lrfind knows, named with their fixes instead of torch's words for them.

Two kinds: checks on what build() returned, made before anything is copied
(`check_task`, `check_copy`, `check_first_loss`), and explanations of the
errors a known mistake causes mid-sweep (`explain`). Each is one small
function; none runs inside the sweep's per-step loop.
"""

from __future__ import annotations

import inspect
import itertools
import multiprocessing
import sys
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lrfind.errors import LrfindError, SpecError, exception_text
from lrfind.spec import SYNTHETIC_MODULE
from lrfind.sweep.adapters.base import keys_of
from lrfind.sweep.adapters.outputs import is_detection_batch
from lrfind.sweep.batch import dict_step_fn, several_inputs
from lrfind.sweep.hints import hint, leaves
from lrfind.sweep.loaders import batch_of_one
from lrfind.sweep.task import Task

_BATCHNORM_ONE = "Expected more than 1 value per channel when training"
_BACKWARD_TWICE = "backward through the graph a second time"
OWN_BACKWARD = (
    "step_fn (or the loss) calls backward() itself: return the loss and let lrfind call "
    "backward() once (a second call would double the gradients)"
)


def check_task(task: Task) -> None:
    """SpecError naming the mistake, for a Task that cannot work (checked before the copy)."""
    for check in _CHECKS:
        problem = check(task)
        if problem:
            raise SpecError(problem)


def check_copy(error: BaseException, model: nn.Module) -> SpecError:
    """The SpecError for a model that cannot be deep-copied (lrfind sweeps only a copy)."""
    if _old_weight_norm(model):
        return SpecError(
            "the model uses torch.nn.utils.weight_norm, whose weights cannot be deep-copied "
            "(lrfind sweeps a copy): use torch.nn.utils.parametrizations.weight_norm instead"
        )
    text = " ".join(exception_text(error).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return SpecError(
        f"the model cannot be deep-copied ({type(error).__name__}: {text}); lrfind sweeps a "
        "copy: drop attributes that cannot be copied (open files, locks, generators)"
    )


def explain(
    error: BaseException, task: Task, batch: Any, validation: bool = False
) -> LrfindError | str:
    """For the user's error mid-sweep: a SpecError that replaces torch's words, or a hint.

    The hint ("" when there is none) is appended to the error's own line. `validation`:
    the error came from the validation pass (`batch` is then the last training batch).
    """
    text = exception_text(error)
    if _BACKWARD_TWICE in text and task.step_fn is not None:
        return SpecError(OWN_BACKWARD)
    if (
        isinstance(error, TypeError)
        and "unexpected keyword argument" in text
        and isinstance(batch, Mapping)
        and task.step_fn is None
    ):  # model(**batch): a timm or torchvision model on dict batches (pixel_values, labels)
        return SpecError(
            f"lrfind calls model(**batch) on dict batches (keys: {keys_of(batch)}), "
            f"and the model's forward rejects them ({text.splitlines()[0]}): {dict_step_fn(batch)}"
        )
    # The error must be a detection model's: any other failure on such batches is the user's.
    detection = "targets should not be none" in text.lower() or "argument: 'targets'" in text
    if task.loss_fn is not None and task.step_fn is None and detection and _detection_pair(batch):
        return SpecError(
            "batches are (images, target dicts), as torchvision's detection models take them, "
            "and build returned a loss_fn: such a model computes its own losses from "
            "model(images, targets); drop the loss_fn"
        )
    if _soft_targets_missing(task, batch):
        return SpecError(
            "loss_fn is timm's SoftTargetCrossEntropy, which takes (N, C) soft targets (timm's "
            "Mixup / CutMix make them), and the batches hold (N,) class ids: apply the Mixup "
            "in a step_fn, or use LabelSmoothingCrossEntropy or nn.CrossEntropyLoss"
        )
    # A model on meta is refused before the copy; moving a meta batch fails before it is
    # kept (no batch yet). A meta tensor made inside forward is the user's own error.
    if _on_meta_device(batch) or (batch is None and "Cannot copy out of meta tensor" in text):
        return SpecError(
            "the batches hold tensors on the meta device (shapes, no data): build the "
            "dataset's tensors on the CPU (or materialise them) before batching"
        )
    if _BATCHNORM_ONE in text:
        return batch_of_one(task.val_loader if validation else task.train_loader, validation)
    several = None if task.step_fn or validation else several_inputs(text, batch)
    if several:
        return SpecError(several)
    return hint(error, batch, task.model) if isinstance(error, Exception) else ""


def _detection_pair(batch: Any) -> bool:
    return isinstance(batch, tuple | list) and len(batch) == 2 and is_detection_batch(batch)


def _soft_targets_missing(task: Task, batch: Any) -> bool:
    """timm's SoftTargetCrossEntropy (by name: timm is not imported) on hard class ids."""
    if type(task.loss_fn).__name__ != "SoftTargetCrossEntropy" or task.step_fn is not None:
        return False
    targets = batch[1] if isinstance(batch, tuple | list) and len(batch) == 2 else None
    return isinstance(targets, torch.Tensor) and targets.dim() == 1


def _on_meta_device(batch: Any) -> bool:
    """Whether any tensor in the batch is on the meta device."""
    return any(isinstance(x, torch.Tensor) and x.is_meta for x in leaves(batch))


def _loss_class(task: Task) -> str | None:
    loss = task.loss_fn
    if isinstance(loss, type) and issubclass(loss, nn.Module):
        name = f"nn.{loss.__name__}" if loss.__module__.startswith("torch.nn") else loss.__name__
        return f"loss_fn is the class {name}, not a loss: pass an instance, {name}()"
    return None


def _loss_params(task: Task) -> str | None:
    """A loss_fn with trainable parameters (an ArcFace/CosFace head, learned loss weights)."""
    if not isinstance(task.loss_fn, nn.Module):
        return None
    n = sum(p.numel() for p in task.loss_fn.parameters() if p.requires_grad)
    if not n:
        return None
    return (
        f"loss_fn ({type(task.loss_fn).__name__}) has {n} trainable parameters, and the sweep "
        "trains a copy of the model only: they would not train, and yours would get "
        "gradients; make them part of the model (a head module loss_fn is given the "
        "output of), or return a step_fn(model, batch) over such a model"
    )


def _step_fn_signature(task: Task) -> str | None:
    if task.step_fn is None:
        return None
    try:
        signature = inspect.signature(task.step_fn)
    except (TypeError, ValueError):  # builtins and some C callables have none
        return None
    try:
        signature.bind(object(), object())
    except TypeError:
        return (
            f"step_fn{signature} cannot be called as step_fn(model, batch): lrfind calls it "
            "with the model and one batch, and it returns the loss"
        )
    return None


def _scripted(task: Task) -> str | None:
    if isinstance(task.model, torch.jit.ScriptModule):  # torch.jit.script and trace both
        return (
            "the model is a TorchScript module (torch.jit.script or trace), whose deep copy "
            "cannot be trained (lrfind sweeps a copy): return the eager nn.Module, and "
            "script it after choosing the LR"
        )
    return None


def _on_meta(task: Task) -> str | None:
    tensors = itertools.chain(task.model.parameters(), task.model.buffers())
    if any(t.is_meta for t in tensors):
        return (
            "the model is on the meta device (its tensors hold no data): materialise it before "
            "returning it (model.to_empty(device='cpu'), then initialise or load a state dict)"
        )
    return None


def _spawn_unimportable(task: Task) -> str | None:
    """A Dataset from a file whose name is no module name cannot reach spawn workers."""
    for loader in (task.train_loader, task.val_loader):
        if not isinstance(loader, torch.utils.data.DataLoader) or loader.num_workers == 0:
            continue
        method = _start_method(loader)
        if method == "fork":
            continue
        for part in (loader.dataset, loader.collate_fn, loader.worker_init_fn):
            module = getattr(part if inspect.isfunction(part) else type(part), "__module__", "")
            if module and module.startswith(SYNTHETIC_MODULE):
                path = getattr(sys.modules.get(module), "__file__", None) or "the SPEC's file"
                return (
                    f"{path} is no Python module name, and the DataLoader's {method} workers "
                    f"import its classes by module name: rename it (e.g. - to _) and run again"
                )
    return None


def wrapper_name(model: nn.Module) -> str | None:
    """The class of a DDP / FSDP wrapper the model is in already, else None."""
    name = type(model).__name__
    wrapped = name in ("DistributedDataParallel", "FullyShardedDataParallel")
    return name if wrapped or name.startswith("FSDP") else None


def _wrapped(task: Task) -> str | None:
    """A model in DDP/FSDP already: its copy would share the user's process group and reducer
    (a rank alone in find_lr waits for the others until the group's timeout)."""
    name = wrapper_name(task.model)
    if name is not None:
        return (
            f"the model is {name}-wrapped: give lrfind the plain module (model.module); under "
            "torchrun, `lrfind run` wraps its own copy in DistributedDataParallel"
        )
    return None


def _start_method(loader: torch.utils.data.DataLoader) -> str:
    context = loader.multiprocessing_context
    if context is None:  # the process default (the first of the list, as the docs say)
        default = multiprocessing.get_all_start_methods()[0]
        return multiprocessing.get_start_method(allow_none=True) or default
    return str(context) if isinstance(context, str) else context.get_start_method()


def _old_weight_norm(model: nn.Module) -> bool:
    try:
        from torch.nn.utils.weight_norm import WeightNorm
    except ImportError:  # pragma: no cover - a torch without the old API
        return False
    hooks = (h for m in model.modules() for h in m._forward_pre_hooks.values())
    return any(isinstance(h, WeightNorm) for h in hooks)


_CHECKS = (
    _wrapped,
    _loss_class,
    _loss_params,
    _step_fn_signature,
    _scripted,
    _on_meta,
    _spawn_unimportable,
)

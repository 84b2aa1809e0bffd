"""What a finished sweep's curve says about the setup, which the loss alone could not.

Run once after the sweep, on the whole history: NLLLoss below 0 proves its inputs are no
log-probabilities (exit 2, the curve kept); a float16 model whose loss turns NaN at once
points at its dtype, not at the data.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from lrfind.config.settings import SweepConfig
from lrfind.core.caveats import early
from lrfind.core.history import History
from lrfind.errors import SpecError
from lrfind.sweep.task import Task


def check_curve(task: Task, history: History, config: SweepConfig, alone: bool) -> History:
    """The history, with a warning added where the curve points at the setup; a SpecError
    (with the history) for a loss that cannot be what it claims. `alone`: not a rank of
    lrfind's own torchrun sweep."""
    check_log_probabilities(task, history)
    return _in_a_group(_fp16_nan(task, history, config), alone)


def _in_a_group(history: History, alone: bool) -> History:
    """find_lr on one rank of the user's torchrun job: its own curve, its own LR."""
    dist = torch.distributed
    if not alone or not dist.is_available() or not dist.is_initialized():
        return history
    if dist.get_world_size() < 2:
        return history
    warning = (
        f"this sweep ran on rank {dist.get_rank()} alone (a process group of "
        f"{dist.get_world_size()} is initialised): each rank gets its own curve and LR; "
        "use rank 0's (dist.broadcast_object_list), or `torchrun ... -m lrfind run` for one "
        "sweep over all ranks"
    )
    return dataclasses.replace(history, warnings=(*history.warnings, warning))


def check_log_probabilities(task: Task, history: History) -> None:
    """A SpecError with the history when NLLLoss went below 0 (beyond float rounding).
    Log-probabilities never give that; raw logits fall without bound."""
    if not isinstance(task.loss_fn, nn.NLLLoss):
        return
    below = [(i, x) for i, x in enumerate(history.losses) if math.isfinite(x) and x < -1e-3]
    if not below:
        return
    step, low = below[0][0] + 1, min(x for _, x in below)
    raise SpecError(
        f"NLLLoss went below 0 from step {step} (to {low:.3g}): it takes log-probabilities, "
        "and the model's outputs are not: end the model with log_softmax(dim=1), or use "
        "CrossEntropyLoss on its raw logits",
        history=dataclasses.replace(history, stop_reason="error"),  # a curve with no suggestion
    )


def _fp16_nan(task: Task, history: History, config: SweepConfig) -> History:
    """A float16 model (no autocast) whose loss turned NaN within the first quarter: at such
    LRs that is fp16's range (Adam's eps of 1e-8 is 0 in float16), not the data."""
    if history.stop_reason != "nan" or config.amp is not None or not early(history, config.steps):
        return history
    if not any(p.dtype == torch.float16 for p in task.model.parameters()):
        return history
    warning = (
        "the model's parameters are float16, whose range the updates leave at once (Adam's "
        "eps of 1e-8 is 0 in float16): keep the parameters float32 and pass --amp fp16 (or "
        "bf16), or make them bfloat16"
    )
    return dataclasses.replace(history, warnings=(*history.warnings, warning))

"""Training stacks taken as build returns them: the transformers Trainer, Lightning, model outputs.

Each is recognised by the classes in its MRO (module and name), so lrfind
imports transformers or lightning only when the user's object is one of
theirs, and never itself: base (recognising classes, loaders made per sweep,
the Stack that records what was taken and set aside), huggingface (a
transformers.Trainer; ModelOutputs), lightning and lightning_steps (a
LightningModule with its datamodule and Trainer settings), outputs (model
outputs that are not a tensor; detection batches), describe (what the sweep
trained with, for the report). timm needs no adapter: its param groups'
lr_scale is honoured by lrfind.sweep.groups.group_ratios.
"""

from __future__ import annotations

from typing import Any

from lrfind.sweep.adapters.huggingface import is_trainer, trainer_fields
from lrfind.sweep.adapters.lightning import lightning_fields


def stack_fields(returned: object, came: str) -> dict[str, Any] | None:
    """The Task fields (with `stack`) for a Trainer or a LightningModule build; None otherwise.

    `came` begins the messages: "build() in model.py returned", "find_lr was given".
    """
    if is_trainer(returned):
        return trainer_fields(returned, came)
    return lightning_fields(returned, came)

"""transformers.Trainer builds: weight-decay groups, clipping, accumulation, overrides (issue 14).

A one-layer BERT classifier from a config (random init) on generated token ids;
nothing is downloaded. Each build returns the Trainer itself; lrfind must take
its model, dataloaders, optimizer, loss and settings without calling train().
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

VOCAB = 64
SEQ = 16


def _examples(n: int, seed: int) -> list[dict[str, Any]]:
    """Dicts as a datasets user has them: "label" (renamed "labels" by the default
    collator) and a string column the Trainer drops (remove_unused_columns)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, VOCAB, (n, SEQ), generator=g)
    labels = (ids[:, :4].sum(dim=1) > 2 * VOCAB).long()  # learnable from the first tokens
    return [
        {"input_ids": ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long),
         "label": int(labels[i]), "text": f"example {i}"}
        for i in range(n)
    ]  # fmt: skip


def _model() -> BertForSequenceClassification:
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=SEQ, num_labels=2,
    )  # fmt: skip
    return BertForSequenceClassification(config)


def _args(**overrides: Any) -> TrainingArguments:
    settings: dict[str, Any] = {
        # The Trainer creates output_dir when constructed: keep it out of the cwd.
        "output_dir": str(Path(tempfile.gettempdir()) / "lrfind-test-trainer"),
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
        "dataloader_pin_memory": False,
    }
    settings.update(overrides)
    return TrainingArguments(**settings)


def _trainer(cls: type[Trainer] = Trainer, **overrides: Any) -> Trainer:
    return cls(
        model=_model(),
        args=_args(**overrides),
        train_dataset=_examples(64, seed=0),
        eval_dataset=_examples(16, seed=1),
    )


def build() -> Trainer:
    """Two param groups (weight decay 0.01 / 0.0), max_grad_norm 0.5, accumulation 2,
    label smoothing 0.1, and a cosine schedule with warmup that a sweep sets aside."""
    return _trainer(
        learning_rate=3e-4, weight_decay=0.01, max_grad_norm=0.5, gradient_accumulation_steps=2,
        label_smoothing_factor=0.1, lr_scheduler_type="cosine", warmup_steps=10,
    )  # fmt: skip


def build_defaults() -> Trainer:
    """The defaults: adamw_torch_fused, lr 5e-5, weight decay 0, max_grad_norm 1.0."""
    return _trainer()


def build_sgd() -> Trainer:
    """optim="sgd" with momentum from optim_args, no clipping (max_grad_norm 0)."""
    return _trainer(optim="sgd", optim_args="momentum=0.9", learning_rate=0.01, max_grad_norm=0.0)


def build_bf16() -> Trainer:
    """bf16=True (with use_cpu, which bf16 on a CPU-only machine requires)."""
    return _trainer(bf16=True, use_cpu=True)


class HeadTrainer(Trainer):
    """A subclass as users write them: its own loss and its own param groups."""

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):  # type: ignore[no-untyped-def]
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = torch.nn.functional.cross_entropy(outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss

    def create_optimizer(self, model=None):  # type: ignore[no-untyped-def]
        if self.optimizer is None:
            m = self.model if model is None else model
            self.optimizer = torch.optim.AdamW(
                [
                    {"params": m.bert.parameters(), "lr": self.args.learning_rate},
                    {"params": m.classifier.parameters(), "lr": self.args.learning_rate * 10},
                ]
            )
        return self.optimizer


def build_subclass() -> Trainer:
    """A Trainer subclass overriding compute_loss and create_optimizer (head at 10x)."""
    return _trainer(HeadTrainer, learning_rate=1e-4)


def build_given_optimizer() -> Trainer:
    """optimizers=(optimizer, None): the Trainer keeps the user's optimizer as it is."""
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return Trainer(
        model=model,
        args=_args(),
        train_dataset=_examples(64, seed=0),
        optimizers=(optimizer, None),
    )


def build_no_dataset() -> Trainer:
    """No train_dataset: get_train_dataloader() raises; lrfind should exit 2 naming it."""
    return Trainer(model=_model(), args=_args())


def build_no_labels() -> Trainer:
    """Examples without a label: the model returns no loss; lrfind should exit 2 naming it."""
    examples = [{k: v for k, v in e.items() if k != "label"} for e in _examples(64, seed=0)]
    return Trainer(model=_model(), args=_args(), train_dataset=examples)


class SelfModelTrainer(Trainer):
    """compute_loss through self.model, as forum code writes it, and a training_step
    override (extra regularisation) that a sweep steps around."""

    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):  # type: ignore[no-untyped-def]
        outputs = self.model(**inputs)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def training_step(self, model, inputs, num_items_in_batch=None):  # type: ignore[no-untyped-def]
        raise AssertionError("lrfind steps with compute_loss")


def build_self_model() -> Trainer:
    """A subclass whose compute_loss uses self.model and which overrides training_step."""
    return _trainer(SelfModelTrainer)


class FreezeCallback:
    """The user's own TrainerCallback (duck-typed: the Trainer only calls its hooks)."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        model.bert.requires_grad_(False)


def build_eval_dict_and_callback() -> Trainer:
    """eval_dataset as a dict of named sets, and a callback of the user's."""
    trainer = _trainer()
    trainer.eval_dataset = {"near": _examples(16, seed=1), "far": _examples(16, seed=2)}
    trainer.add_callback(FreezeCallback())
    return trainer

"""A Hugging Face model whose output is a ModelOutput, with the user's own loss_fn (issue 14).

BertForSequenceClassification from a config (random init) on generated token
ids; batches are dicts with "labels". With a loss_fn, lrfind should give the
output's .logits to it (said once); without one, the model's own .loss is used.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from transformers import BertConfig, BertForSequenceClassification

VOCAB, SEQ = 64, 16


class Tokens(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int = 128, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, VOCAB, (n, SEQ), generator=g)
        self.labels = (self.ids[:, :4].sum(dim=1) > 2 * VOCAB).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long),
                "labels": self.labels[i]}  # fmt: skip


def _model() -> BertForSequenceClassification:
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=SEQ, num_labels=2,
    )  # fmt: skip
    return BertForSequenceClassification(config)


def build() -> tuple[nn.Module, DataLoader, nn.Module]:
    """(model, loader, loss_fn): the loss_fn receives a SequenceClassifierOutput today."""
    return _model(), DataLoader(Tokens(), batch_size=16, shuffle=True), nn.CrossEntropyLoss()


def build_label_smoothing() -> tuple[nn.Module, DataLoader, nn.Module]:
    """A loss_fn that differs from the model's own loss, so using .loss instead would show."""
    loader = DataLoader(Tokens(), batch_size=16, shuffle=True)
    return _model(), loader, nn.CrossEntropyLoss(label_smoothing=0.2)


def build_own_loss() -> tuple[nn.Module, DataLoader]:
    """(model, loader): the model computes .loss from the "labels" entry (works today)."""
    return _model(), DataLoader(Tokens(), batch_size=16, shuffle=True)

"""A tiny character-level causal transformer that computes its own loss.

Shows the Hugging Face-style contract: batches are dicts, lrfind calls
`model(**batch)`, and since build() returns no `loss_fn` it reads the loss from
the model's output (`out.loss`). The text is the GPL-3 licence that Debian-based
systems ship in /usr/share/common-licenses; elsewhere a deterministic
pseudo-text is generated, so nothing is downloaded.

Run it from the repository root:

    lrfind run sample_models/char_transformer.py:build
    lrfind run sample_models/char_transformer.py:build --arg block_size=128 --arg n_layers=4
    lrfind run sample_models/char_transformer.py:build --arg text_path=notes.txt
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

DEFAULT_TEXT = Path("/usr/share/common-licenses/GPL-3")


@dataclass
class CausalLMOutput:
    """What the model returns, like a Hugging Face `ModelOutput`: `.loss` or `["loss"]`."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None

    def __getitem__(self, key: str) -> torch.Tensor | None:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


class Block(nn.Module):
    """A pre-LayerNorm transformer block: causal self-attention, then an MLP."""

    def __init__(self, d_model: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.n_heads = n_heads
        self.dropout = dropout
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model),
            nn.GELU(),
            nn.Linear(4 * d_model, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        # (b, t, c) -> (b, heads, t, c / heads) for scaled_dot_product_attention.
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for z in (q, k, v))
        att = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, t, c)))
        return x + self.drop(self.mlp(self.ln2(x)))


class TinyCharLM(nn.Module):
    """A decoder-only language model over characters, with learned positions."""

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.block_size = block_size
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(block_size, d_model)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, dropout) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None = None
    ) -> CausalLMOutput:
        t = input_ids.shape[1]
        if t > self.block_size:
            raise ValueError(f"sequence of {t} tokens is longer than block_size={self.block_size}")
        positions = torch.arange(t, device=input_ids.device)
        x = self.drop(self.tok_emb(input_ids) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        loss = None
        if labels is not None:
            # Labels are already shifted by one (see CharWindows): every position counts.
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return CausalLMOutput(logits=logits, loss=loss)


class CharWindows(Dataset[dict[str, torch.Tensor]]):
    """Every window of `block_size` characters, with the next character as the label."""

    def __init__(self, ids: torch.Tensor, block_size: int) -> None:
        if len(ids) <= block_size:
            raise ValueError(
                f"text of {len(ids)} characters is too short for block_size={block_size}"
            )
        self.ids = ids
        self.block_size = block_size

    def __len__(self) -> int:
        return len(self.ids) - self.block_size

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        chunk = self.ids[i : i + self.block_size + 1]
        return {"input_ids": chunk[:-1], "labels": chunk[1:]}


def pseudo_text(n_chars: int = 40_000, seed: int = 0) -> str:
    """Deterministic word salad, for systems without the GPL-3 file."""
    words = ["the", "a", "of", "to", "and", "you", "may", "free", "software", "program", "license"]
    rng = random.Random(seed)  # a private RNG: the text must not depend on the global seed
    sentences = []
    length = 0
    while length < n_chars:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        sentences.append(sentence.capitalize() + rng.choice(".,;") + " ")
        length += len(sentences[-1])
    return "".join(sentences)[:n_chars]


def build(
    block_size: int = 64,
    batch_size: int = 32,
    d_model: int = 64,
    n_layers: int = 2,
    n_heads: int = 4,
    dropout: float = 0.0,
    weight_decay: float = 0.01,
    text_path: str = "",
) -> dict[str, Any]:
    """Return `{"model", "train_loader", "optimizer"}`; the model computes its own loss.

    Args:
        block_size: characters of context per example.
        batch_size: examples per batch.
        d_model: embedding width.
        n_layers: transformer blocks.
        n_heads: attention heads (must divide d_model).
        dropout: dropout probability (0 keeps the sweep's losses less noisy).
        weight_decay: AdamW weight decay.
        text_path: a UTF-8 text file to train on; empty: GPL-3 or pseudo-text.
    """
    if text_path:
        text = Path(text_path).read_text(encoding="utf-8")
    elif DEFAULT_TEXT.is_file():
        text = DEFAULT_TEXT.read_text(encoding="utf-8")
    else:
        text = pseudo_text()
    vocab = sorted(set(text))  # sorted: the same text always gives the same token ids
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.long)

    # No seeding here: lrfind seeds the global RNG, which fixes the init and the shuffling.
    model = TinyCharLM(len(vocab), block_size, d_model, n_layers, n_heads, dropout)
    train_loader = DataLoader(CharWindows(ids, block_size), batch_size=batch_size, shuffle=True)
    return {
        "model": model,
        "train_loader": train_loader,
        # No "loss_fn": lrfind calls model(**batch) and reads the output's .loss.
        "optimizer": functools.partial(torch.optim.AdamW, weight_decay=weight_decay),
    }

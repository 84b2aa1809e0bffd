"""A Hugging Face Trainer example: a tiny GPT-2, built from a config with random weights.

What a transformers user already has, returned as it is: a `transformers.Trainer`
with its model, datasets and TrainingArguments (AdamW with weight decay, gradient
clipping at max_grad_norm, a warmup + cosine schedule that a range test sets
aside). Trainer.train() is never called. The tokens are the bytes of the GPL-3
licence that Debian-based systems ship in /usr/share/common-licenses (a 256-token
vocabulary, so no tokenizer is downloaded); elsewhere bytes of a generated text.

Run it from the repository root:

    lrfind run sample_models/hf_trainer.py:build
    lrfind run sample_models/hf_trainer.py:build --arg n_layer=4 --arg block_size=128
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

DEFAULT_TEXT = Path("/usr/share/common-licenses/GPL-3")
VOCAB = 256  # one token per byte


def token_ids(text_path: str | Path = DEFAULT_TEXT) -> torch.Tensor:
    """The bytes of the file at `text_path` as token ids (of a generated text if it is missing)."""
    path = Path(text_path)
    data = path.read_bytes() if path.is_file() else _pseudo_text().encode()
    return torch.tensor(list(data), dtype=torch.long)


def _pseudo_text(n_words: int = 8_000, seed: int = 0) -> str:
    words = ["the", "a", "of", "to", "and", "you", "may", "free", "software", "program", "license"]
    rng = random.Random(seed)  # private: the text must not depend on the global seed
    return " ".join(rng.choice(words) for _ in range(n_words))


class ByteBlocks(Dataset[dict[str, torch.Tensor]]):
    """Non-overlapping blocks of `block_size` tokens; GPT-2 shifts the labels itself."""

    def __init__(self, ids: torch.Tensor, block_size: int) -> None:
        n = len(ids) // block_size
        if n == 0:
            raise ValueError(f"{len(ids)} tokens are too few for block_size={block_size}")
        self.blocks = ids[: n * block_size].view(n, block_size)

    def __len__(self) -> int:
        return len(self.blocks)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        block = self.blocks[i]
        return {"input_ids": block, "labels": block}


def build(
    block_size: int = 64,
    n_layer: int = 2,
    n_embd: int = 64,
    batch_size: int = 16,
    weight_decay: float = 0.01,
    text_path: str = str(DEFAULT_TEXT),
) -> Trainer:
    """Return a `transformers.Trainer` over a tiny randomly initialised GPT-2.

    Args:
        block_size: tokens per training example.
        n_layer: transformer blocks.
        n_embd: model width (4 attention heads).
        batch_size: examples per batch (per_device_train_batch_size).
        weight_decay: AdamW's weight decay (not applied to biases and LayerNorms).
        text_path: the text whose bytes are the tokens.
    """
    ids = token_ids(text_path)
    split = int(len(ids) * 0.9)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=block_size,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = GPT2LMHeadModel(config)  # random init from the config: nothing is downloaded
    args = TrainingArguments(
        # The Trainer creates its output_dir when it is constructed: keep it out of the cwd.
        output_dir=str(Path(tempfile.gettempdir()) / "lrfind-hf-trainer-example"),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        learning_rate=5e-4,
        weight_decay=weight_decay,
        max_grad_norm=1.0,
        lr_scheduler_type="cosine",
        warmup_steps=100,
        save_strategy="no",
        dataloader_pin_memory=torch.cuda.is_available(),  # no pinning warning on CPU-only machines
        report_to="none",
        disable_tqdm=True,
    )
    return Trainer(
        model=model,
        args=args,
        train_dataset=ByteBlocks(ids[:split], block_size),
        eval_dataset=ByteBlocks(ids[split:], block_size),
    )

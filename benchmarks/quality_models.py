"""The models of the generalisation suite (benchmarks/quality_suite.py), small enough for one core.

Every model is built after `torch.manual_seed(seed)`, so its initial weights
are fixed by the seed. Two kinds of forward:

- plain models: `model(inputs) -> tensor`, the loss is `loss_fn(output, targets)`;
- Hugging Face-style models: `model(**batch) -> Output` with `.loss` (and
  `["loss"]`), computed inside from the batch's `labels`: lrfind's contract for
  builds that return no loss_fn.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Output:
    """A Hugging Face `ModelOutput` look-alike: `.loss`, `.logits`, and `out["loss"]`."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None

    def __getitem__(self, key: str) -> torch.Tensor | None:
        return {"logits": self.logits, "loss": self.loss}[key]


def mlp(n_in: int, n_out: int, hidden: int = 128, depth: int = 2, bn: bool = False) -> nn.Module:
    """ReLU MLP with `depth` hidden layers (BatchNorm after each when `bn`)."""
    layers: list[nn.Module] = []
    width = n_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), *([nn.BatchNorm1d(hidden)] if bn else []), nn.ReLU()]
        width = hidden
    return nn.Sequential(*layers, nn.Linear(width, n_out))


class Squeeze(nn.Module):
    """(batch, 1) -> (batch): scalar outputs for BCE and MSE on 1-d targets."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).squeeze(1)


class MeanVar(nn.Module):
    """An MLP predicting a mean and a variance, for GaussianNLLLoss (whose loss goes negative)."""

    def __init__(self, n_in: int, hidden: int = 64) -> None:
        super().__init__()
        self.body = mlp(n_in, 2, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.body(x)
        return out[:, 0], F.softplus(out[:, 1]) + 1e-4


def gaussian_nll(output: tuple[torch.Tensor, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Gaussian negative log-likelihood without its constant: it crosses 0 as the fit improves."""
    mean, var = output
    return F.gaussian_nll_loss(mean, target, var)


def cnn(n_out: int = 10, bn: bool = True) -> nn.Sequential:
    """Two 3x3 convolutions (with or without BatchNorm), a pool, a linear head; 8x8 inputs."""
    norm = (lambda c: nn.BatchNorm2d(c)) if bn else (lambda c: nn.Identity())
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), norm(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), norm(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, n_out),
    )  # fmt: skip


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def resnet(n_out: int = 10, width: int = 16) -> nn.Module:
    """A small ResNet: a stem, two residual blocks, global pooling, a linear head."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        Residual(width), Residual(width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(width, n_out),
    )  # fmt: skip


class Block(nn.Module):
    """A pre-LayerNorm transformer block (causal or not)."""

    def __init__(self, d: int, heads: int, causal: bool) -> None:
        super().__init__()
        self.heads, self.causal = heads, causal
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    """A ViT-like classifier on 8x8 images: 2x2 patches (16 tokens), a class token, 2 blocks."""

    def __init__(self, n_out: int = 10, d: int = 32, depth: int = 2, heads: int = 4) -> None:
        super().__init__()
        self.patch = nn.Conv2d(1, d, 2, stride=2)
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        self.pos = nn.Parameter(torch.randn(1, 17, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, heads, causal=False) for _ in range(depth)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1) + self.pos
        return self.head(self.ln(self.blocks(tokens))[:, 0])


class CharLM(nn.Module):
    """A causal transformer over characters.

    `hf=True`: Hugging Face style, `model(input_ids=..., labels=...)` returns an
    Output with the loss inside; otherwise `model(ids)` returns flat logits for
    `cross_entropy(logits, targets.flatten())`.
    """

    def __init__(self, vocab: int, block: int, d: int = 32, depth: int = 2, hf: bool = False):
        super().__init__()
        self.hf = hf
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, block, d) * 0.02)
        self.blocks = nn.Sequential(*[Block(d, 4, causal=True) for _ in range(depth)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)

    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.tok(ids) + self.pos[:, : ids.shape[1]])
        return self.head(self.ln(h))

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> object:
        logits = self.logits(input_ids)
        if not self.hf:
            return logits.flatten(0, 1)
        loss = None if labels is None else F.cross_entropy(logits.flatten(0, 1), labels.flatten())
        return Output(logits, loss)


class CharRNN(nn.Module):
    """A recurrent character LM: an embedding, one RNN / GRU / LSTM layer, a linear head."""

    def __init__(self, vocab: int, kind: str, hidden: int = 64) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, 32)
        self.rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind](
            32, hidden, batch_first=True
        )
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.tok(ids))
        return self.head(h).flatten(0, 1)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets.flatten())


class SeqClassifier(nn.Module):
    """Hugging Face-style sequence classifier on token ids: `model(input_ids, labels) -> Output`.

    `kind="bag"`: mean of the token embeddings and an MLP; `kind="transformer"`:
    one encoder block and mean pooling. `smoothing` is the label smoothing of its loss.
    """

    def __init__(self, vocab: int, n_out: int, kind: str, smoothing: float = 0.0) -> None:
        super().__init__()
        d = 32
        self.smoothing = smoothing
        self.tok = nn.Embedding(vocab, d)
        self.encoder = Block(d, 4, causal=False) if kind == "transformer" else nn.Identity()
        self.head = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, n_out))

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> Output:
        logits = self.head(self.encoder(self.tok(input_ids)).mean(1))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits, labels, label_smoothing=self.smoothing)
        return Output(logits, loss)


class AutoEncoder(nn.Module):
    """An MLP autoencoder 64 -> 32 -> 8 -> 32 -> 64; the target is the input itself."""

    def __init__(self, n_in: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 32), nn.ReLU(), nn.Linear(32, 8), nn.ReLU(),
                                 nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, n_in))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

"""The suite of the suggestion-quality benchmark: small real tasks, nothing downloaded.

Each task is a model, a training set, a held-out validation set, a loss and an
optimizer, chosen to differ from one another: classification and regression,
SGD with momentum and AdamW, an MLP, a CNN, a ResNet, a transformer, a linear
model. Data comes from scikit-learn's bundled datasets and the GPL-3 text that
Debian ships. Batches are always `(inputs, targets)` and the loss is
`loss_fn(model(inputs), targets)`, so the ground-truth trainer, lrfind and
torch-lr-finder all run the very same computation.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parent.parent
TEXT = Path("/usr/share/common-licenses/GPL-3")

Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]  # x, y, x_val, y_val


@dataclass(frozen=True)
class QualityTask:
    """One task of the suite.

    `steps` is the training budget of the ground truth (optimizer steps at a
    constant LR); `batch_size` is the same for the sweep and the training.
    """

    name: str
    description: str
    data: Callable[[], Tensors]
    model: Callable[[int], nn.Module]  # input size or vocabulary -> model
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    optimizer: Callable[..., torch.optim.Optimizer]  # params, lr -> optimizer
    steps: int
    batch_size: int

    def build(self, seed: int) -> tuple[nn.Module, DataLoader]:
        """The model initialised from `seed` and a loader whose order `seed` fixes."""
        x, y, _, _ = _cached(self.name, self.data)
        torch.manual_seed(seed)
        model = self.model(_width(self.name, x))
        generator = torch.Generator().manual_seed(seed)
        loader = DataLoader(
            TensorDataset(x, y),
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            generator=generator,
        )
        return model, loader

    def validation(self) -> tuple[torch.Tensor, torch.Tensor]:
        _, _, x_val, y_val = _cached(self.name, self.data)
        return x_val, y_val


_DATA: dict[str, Tensors] = {}


def _cached(name: str, make: Callable[[], Tensors]) -> Tensors:
    if name not in _DATA:
        _DATA[name] = make()
    return _DATA[name]


def _width(name: str, x: torch.Tensor) -> int:
    return VOCAB if name == "char_transformer" else int(x.shape[1]) if x.dim() == 2 else 1


def _split(x: np.ndarray, y: np.ndarray, y_dtype: torch.dtype) -> Tensors:
    """A fixed 75 / 25 split, the same for every run."""
    order = np.random.default_rng(0).permutation(len(x))
    cut = len(x) * 3 // 4
    train, val = order[:cut], order[cut:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-8
    x = (x - mean) / std
    as_x = functools.partial(torch.tensor, dtype=torch.float32)
    as_y = functools.partial(torch.tensor, dtype=y_dtype)
    return as_x(x[train]), as_y(y[train]), as_x(x[val]), as_y(y[val])


def _digits() -> Tensors:
    from sklearn.datasets import load_digits

    d = load_digits()
    return _split(d.data, d.target, torch.long)


def _digits_images() -> Tensors:
    x, y, xv, yv = _digits()
    return x.view(-1, 1, 8, 8), y, xv.view(-1, 1, 8, 8), yv


def _breast_cancer() -> Tensors:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return _split(d.data, d.target.astype(np.float32), torch.float32)


def _diabetes() -> Tensors:
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    y = (d.target - d.target.mean()) / d.target.std()  # standardised: a loss near 1 at the start
    return _split(d.data, y.astype(np.float32), torch.float32)


def _wine() -> Tensors:
    from sklearn.datasets import load_wine

    d = load_wine()
    return _split(d.data, d.target, torch.long)


BLOCK = 64
VOCAB = 96  # printable ASCII and newline; anything else maps to one "unknown" id


def _text() -> Tensors:
    """Next-character prediction on GPL-3: 64-character windows, the last 10% held out."""
    raw = TEXT.read_text(encoding="utf-8", errors="replace") if TEXT.exists() else _pseudo_text()
    ids = torch.tensor([min(max(ord(c) - 31, 0), VOCAB - 1) if c != "\n" else 0 for c in raw])
    cut = len(ids) * 9 // 10

    def windows(part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.arange(0, len(part) - BLOCK - 1, BLOCK // 2)
        x = torch.stack([part[s : s + BLOCK] for s in starts])
        y = torch.stack([part[s + 1 : s + BLOCK + 1] for s in starts])
        return x, y

    return (*windows(ids[:cut]), *windows(ids[cut:]))


def _pseudo_text() -> str:
    words = [
        "the",
        "of",
        "program",
        "license",
        "software",
        "you",
        "work",
        "free",
        "may",
        "any",
        "source",
        "code",
        "copy",
    ]
    rng = np.random.default_rng(0)
    return " ".join(rng.choice(words, 6000))


def _char_lm(vocab: int) -> nn.Module:
    module = _sample("char_transformer")
    lm = module.TinyCharLM(vocab, BLOCK, d_model=48, n_layers=2, n_heads=4, dropout=0.0)
    return _LogitsOnly(lm)


class _LogitsOnly(nn.Module):
    """The sample's language model, returning its logits (flattened over positions)."""

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm(x).logits.flatten(0, 1)


def _sample(name: str) -> object:
    key = f"_lrfind_sample_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "sample_models" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[key] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[key]


def _mlp(n_in: int, n_out: int, hidden: int = 128) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))  # fmt: skip


class _Squeeze(nn.Module):
    """(batch, 1) -> (batch): scalar targets for BCE and MSE."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).squeeze(1)


def _cnn(_: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, 10),
    )  # fmt: skip


class _Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x))


def _resnet(_: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        _Residual(16), _Residual(16), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )  # fmt: skip


def _sgd(params: object, lr: float = 0.01) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9)  # type: ignore[arg-type]


def _sgd_wd(params: object, lr: float = 0.01) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)  # type: ignore[arg-type]


def _adamw(params: object, lr: float = 1e-3) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)  # type: ignore[arg-type]


def _lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, targets.flatten())


SUITE: dict[str, QualityTask] = {
    t.name: t
    for t in [
        QualityTask("digits_mlp", "MLP, digits (10 classes), cross-entropy, SGD+momentum",
                    _digits, lambda n: _mlp(n, 10), nn.CrossEntropyLoss(), _sgd, 300, 64),
        QualityTask("cancer_mlp", "MLP, breast cancer (binary), BCE with logits, AdamW",
                    _breast_cancer, lambda n: _Squeeze(_mlp(n, 1, 64)), nn.BCEWithLogitsLoss(),
                    _adamw, 200, 32),
        QualityTask("diabetes_mlp", "MLP, diabetes (regression), MSE, SGD+momentum",
                    _diabetes, lambda n: _Squeeze(_mlp(n, 1, 64)), nn.MSELoss(), _sgd, 300, 32),
        QualityTask("wine_linear", "linear model, wine (3 classes), cross-entropy, AdamW",
                    _wine, lambda n: nn.Linear(n, 3), nn.CrossEntropyLoss(), _adamw, 200, 16),
        QualityTask("digits_cnn", "CNN with BatchNorm, digits images, cross-entropy, AdamW",
                    _digits_images, _cnn, nn.CrossEntropyLoss(), _adamw, 200, 64),
        QualityTask("digits_resnet", "ResNet (2 residual blocks), digits images, SGD+momentum+wd",
                    _digits_images, _resnet, nn.CrossEntropyLoss(), _sgd_wd, 200, 64),
        # Tiny batches: noisy curves, where a lightly smoothed minimum could be a fluke.
        QualityTask("digits_mlp_b8", "MLP, digits, batches of 8 (noisy), SGD+momentum",
                    _digits, lambda n: _mlp(n, 10), nn.CrossEntropyLoss(), _sgd, 300, 8),
        QualityTask("cancer_mlp_b4", "MLP, breast cancer, batches of 4 (noisy), AdamW",
                    _breast_cancer, lambda n: _Squeeze(_mlp(n, 1, 64)), nn.BCEWithLogitsLoss(),
                    _adamw, 200, 4),
        QualityTask("char_transformer", "causal transformer, GPL-3 characters, AdamW",
                    _text, _char_lm, _lm_loss, _adamw, 300, 16),
    ]
}  # fmt: skip

"""An MLP on scikit-learn's handwritten digits: the smallest real lrfind example.

The 1,797 8x8 digit images ship inside scikit-learn, so nothing is downloaded.
`build()` returns the simplest contract, a `(model, train_loader, loss_fn)` tuple:
batches are `(inputs, targets)` pairs and the loss is `loss_fn(model(inputs), targets)`.

Run it from the repository root:

    lrfind run sample_models/digits_mlp.py:build
    lrfind run sample_models/digits_mlp.py:build --arg hidden=256 --arg batch_size=128
    lrfind run sample_models/digits_mlp.py:build_with_val --val-batches 4
"""

from __future__ import annotations

from typing import Any

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = load_digits(return_X_y=True)
    inputs = torch.tensor(pixels, dtype=torch.float32)
    # Standardize each pixel so that a single LR suits every input weight. Some border
    # pixels are always 0, so clamp the std rather than divide by zero.
    inputs = (inputs - inputs.mean(dim=0)) / inputs.std(dim=0).clamp_min(1e-6)
    return inputs, torch.tensor(labels, dtype=torch.long)


def build(
    hidden: int = 128, batch_size: int = 64
) -> tuple[nn.Module, DataLoader[tuple[torch.Tensor, ...]], nn.Module]:
    """Return `(model, train_loader, loss_fn)` for 10-class digit classification.

    Args:
        hidden: width of both hidden layers.
        batch_size: examples per batch.
    """
    inputs, targets = _digits()

    # No seeding here: lrfind seeds the global RNG, which then fixes both the weight
    # init below and the DataLoader's shuffling.
    model = nn.Sequential(
        nn.Linear(inputs.shape[1], hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )
    train_loader = DataLoader(TensorDataset(inputs, targets), batch_size=batch_size, shuffle=True)
    return model, train_loader, nn.CrossEntropyLoss()


def build_with_val(hidden: int = 128, batch_size: int = 64, val_size: int = 400) -> dict[str, Any]:
    """The same MLP with a held-out validation loader: the last `val_size` digits.

    With a `val_loader`, lrfind records the validation loss after each step
    (Smith's original test); `--val-batches K` limits it to K fixed batches.
    """
    model, _, loss_fn = build(hidden, batch_size)
    inputs, targets = _digits()
    train = TensorDataset(inputs[:-val_size], targets[:-val_size])
    val = TensorDataset(inputs[-val_size:], targets[-val_size:])
    return {
        "model": model,
        "train_loader": DataLoader(train, batch_size=batch_size, shuffle=True),
        "loss_fn": loss_fn,
        "val_loader": DataLoader(val, batch_size=batch_size),
    }

"""An MLP on scikit-learn's handwritten digits: the smallest real lrfind example.

The 1,797 8x8 digit images ship inside scikit-learn, so nothing is downloaded.
`build()` returns the simplest contract, a `(model, train_loader, loss_fn)` tuple:
batches are `(inputs, targets)` pairs and the loss is `loss_fn(model(inputs), targets)`.

Run it from the repository root:

    lrfind run sample_models/digits_mlp.py:build
    lrfind run sample_models/digits_mlp.py:build --arg hidden=256 --arg batch_size=128
"""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def build(
    hidden: int = 128, batch_size: int = 64
) -> tuple[nn.Module, DataLoader[tuple[torch.Tensor, ...]], nn.Module]:
    """Return `(model, train_loader, loss_fn)` for 10-class digit classification.

    Args:
        hidden: width of both hidden layers.
        batch_size: examples per batch.
    """
    pixels, labels = load_digits(return_X_y=True)
    inputs = torch.tensor(pixels, dtype=torch.float32)
    # Standardize each pixel so that a single LR suits every input weight. Some border
    # pixels are always 0, so clamp the std rather than divide by zero.
    inputs = (inputs - inputs.mean(dim=0)) / inputs.std(dim=0).clamp_min(1e-6)
    targets = torch.tensor(labels, dtype=torch.long)

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

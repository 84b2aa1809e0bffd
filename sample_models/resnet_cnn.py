"""A torchvision ResNet-18 on scikit-learn's digits, upsampled to 32x32 RGB.

Shows the dict form of the build contract, with an optimizer factory: lrfind
builds `SGD(params, momentum=0.9, weight_decay=5e-4)` from it and sweeps its LR.
The ResNet is randomly initialized (`weights=None`) and the digits ship inside
scikit-learn, so nothing is downloaded.

Run it from the repository root:

    lrfind run sample_models/resnet_cnn.py:build
    lrfind run sample_models/resnet_cnn.py:build --arg batch_size=64 --arg weight_decay=1e-4
"""

from __future__ import annotations

import functools
from typing import Any

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models import resnet18


def build(
    batch_size: int = 32,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Return `{"model", "train_loader", "loss_fn", "optimizer"}` for digit classification.

    Args:
        batch_size: images per batch.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        channels_last: store the model in channels-last memory format (faster on
            some GPUs and CPUs; the default keeps the usual layout).
    """
    pixels, labels = load_digits(return_X_y=True)
    # 8x8 grayscale in [0, 16] -> 32x32: ResNet-18 downsamples 32x, so its last stage
    # sees 1x1 maps; larger images would only cost CPU time.
    images = torch.tensor(pixels, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False)
    images = (images - images.mean()) / images.std()
    # ResNet-18 expects 3 channels; repeating the gray one keeps its stem unchanged.
    images = images.repeat(1, 3, 1, 1)
    targets = torch.tensor(labels, dtype=torch.long)

    # No seeding here: lrfind seeds the global RNG, which fixes the init and the shuffling.
    model = resnet18(weights=None, num_classes=10)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    train_loader = DataLoader(
        TensorDataset(images, targets),
        batch_size=batch_size,
        shuffle=True,
        # A trailing batch of one image would crash BatchNorm on the last stage's 1x1
        # maps (one value per channel); dropping the remainder avoids it for any size.
        drop_last=True,
    )
    return {
        "model": model,
        "train_loader": train_loader,
        "loss_fn": nn.CrossEntropyLoss(),
        # A factory, not an Optimizer: lrfind builds it on its own copy of the model
        # and overwrites the LR at every step.
        "optimizer": functools.partial(
            torch.optim.SGD, momentum=momentum, weight_decay=weight_decay
        ),
    }

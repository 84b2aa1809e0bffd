"""(d) a known mistake: nn.CrossEntropyLoss without () on a classifier."""

import torch
from faultkit import data
from torch import nn


def build() -> tuple:
    x, y = data(64)
    labels = (y.squeeze(1) > y.median()).long()
    dataset = torch.utils.data.TensorDataset(x, labels)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    return model, torch.utils.data.DataLoader(dataset, batch_size=16), nn.CrossEntropyLoss

"""(d) a known mistake: BatchNorm in training mode on a batch of one. 64 samples with
batch_size=21 leave a last batch of 1 (drop_last=False); batch_size=1 does it at once."""

import torch
from faultkit import data
from torch import nn


def build(batch_size: int = 21) -> tuple:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    dataset = torch.utils.data.TensorDataset(*data(64))
    return model, torch.utils.data.DataLoader(dataset, batch_size=batch_size), nn.MSELoss()

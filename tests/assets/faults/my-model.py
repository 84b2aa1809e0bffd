"""(d) spawn workers and a file name that is not a module name: DataLoader workers
started with "spawn" (the macOS and Windows default) re-import the Dataset's module by
name in each worker, and `my-model` cannot be imported. The probe also copies this
file to spawn_model.py, the same code under an importable name, as the control."""

import torch
from faultkit import data, mlp
from torch import nn


class Samples(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.x, self.y = data(512)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple:
        return self.x[i], self.y[i]


def build() -> tuple:
    loader = torch.utils.data.DataLoader(
        Samples(),
        batch_size=16,
        num_workers=2,
        multiprocessing_context="spawn",
        persistent_workers=True,
    )
    return mlp(), loader, nn.MSELoss()

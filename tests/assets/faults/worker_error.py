"""(d) a DataLoader worker's error: num_workers=2 and __getitem__ raises at index 37
(a corrupt sample); torch re-raises it with the worker's whole traceback in the message."""

import torch
from faultkit import data, mlp
from torch import nn


class Corrupt(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.x, self.y = data(64)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple:
        if i == 37:
            raise ValueError(f"sample {i}: corrupt JPEG header")
        return self.x[i], self.y[i]


def build() -> tuple:
    loader = torch.utils.data.DataLoader(Corrupt(), batch_size=16, num_workers=2)
    return mlp(), loader, nn.MSELoss()

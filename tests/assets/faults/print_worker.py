"""(a) stdout pollution: the Dataset prints in DataLoader worker processes (num_workers=2)."""

import torch
from faultkit import USER, data, mlp
from torch import nn


class ChattyData(torch.utils.data.Dataset):
    def __init__(self) -> None:
        self.x, self.y = data(64)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple:
        if i % 16 == 0:
            print(f"{USER} worker reads item {i}")
        return self.x[i], self.y[i]


def build(context: str = "") -> tuple:
    loader = torch.utils.data.DataLoader(
        ChattyData(),
        batch_size=16,
        num_workers=2,
        multiprocessing_context=context or None,
        persistent_workers=True,
    )
    return mlp(), loader, nn.MSELoss()

"""(c) set-up: the validation dataset raises when read (a missing file); with
--val-batches the val batches are taken before the first step."""

import torch
from faultkit import loader, mlp
from torch import nn


class MissingImages(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> tuple:
        raise FileNotFoundError(f"val/image_{i}.png")


def build() -> dict:
    return {
        "model": mlp(),
        "train_loader": loader(),
        "loss_fn": nn.MSELoss(),
        "val_loader": torch.utils.data.DataLoader(MissingImages(), batch_size=8),
    }

"""A Lightning example: a LightningModule and its LightningDataModule on scikit-learn's digits.

What a Lightning user already has, returned as it is: `training_step` is the
loss, `configure_optimizers` the optimizer (here AdamW with a cosine schedule,
which a range test sets aside), the datamodule the data. No Lightning Trainer
is run. The 1,797 8x8 digit images ship inside scikit-learn, so nothing is
downloaded.

Run it from the repository root:

    lrfind run sample_models/lightning_module.py:build
    lrfind run sample_models/lightning_module.py:build --arg hidden=256
    lrfind run sample_models/lightning_module.py:build_hooks   # dataloaders on the module itself
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    pixels, labels = load_digits(return_X_y=True)
    inputs = torch.tensor(pixels, dtype=torch.float32)
    # Standardise each pixel (border pixels are always 0: clamp the std).
    inputs = (inputs - inputs.mean(dim=0)) / inputs.std(dim=0).clamp_min(1e-6)
    return inputs, torch.tensor(labels, dtype=torch.long)


class DigitsModule(LightningModule):
    """An MLP classifier for the 10 digit classes.

    Args:
        hidden: width of both hidden layers.
        lr: the learning rate configure_optimizers uses (what lrfind suggests).
        weight_decay: AdamW's weight decay.
        max_steps: the length of the cosine schedule.
    """

    def __init__(
        self, hidden: int = 128, lr: float = 1e-3, weight_decay: float = 1e-4, max_steps: int = 1000
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.lr = lr
        self.net = nn.Sequential(
            nn.Linear(64, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(
        self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int
    ) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("val_loss", loss)
        return loss

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.lr, weight_decay=self.hparams["weight_decay"]
        )
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=self.hparams["max_steps"]
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class DigitsData(LightningDataModule):
    """The digits split into train and validation; `setup()` loads them.

    Args:
        batch_size: examples per batch.
        val_size: how many of the last digits are held out for validation.
    """

    def __init__(self, batch_size: int = 64, val_size: int = 400) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.val_size = val_size
        self.train: TensorDataset | None = None
        self.val: TensorDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        inputs, targets = _digits()
        n = self.val_size
        self.train = TensorDataset(inputs[:-n], targets[:-n])
        self.val = TensorDataset(inputs[-n:], targets[-n:])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, batch_size=self.batch_size)


class DigitsModuleWithLoaders(DigitsModule):
    """The same module with its own dataloader hooks, for builds without a datamodule."""

    def __init__(self, batch_size: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data = DigitsData(batch_size)
        self.data.setup("fit")

    def train_dataloader(self) -> DataLoader:
        return self.data.train_dataloader()

    def val_dataloader(self) -> DataLoader:
        return self.data.val_dataloader()


def build(hidden: int = 128, batch_size: int = 64) -> tuple[DigitsModule, DigitsData]:
    """Return `(LightningModule, LightningDataModule)`, as a Lightning user has them.

    Args:
        hidden: width of both hidden layers.
        batch_size: examples per batch.
    """
    # No seeding here: lrfind seeds the global RNG, which fixes the weight init and the shuffling.
    return DigitsModule(hidden=hidden), DigitsData(batch_size=batch_size)


def build_hooks(hidden: int = 128, batch_size: int = 64) -> DigitsModuleWithLoaders:
    """Return a LightningModule alone: its train_dataloader()/val_dataloader() give the data."""
    return DigitsModuleWithLoaders(batch_size=batch_size, hidden=hidden)

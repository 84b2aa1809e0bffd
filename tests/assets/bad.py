"""build() entrypoints that go wrong in the ways users' code does (for test_bad_input)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from torch import nn

try:
    from .tiny import _data, _loader, build
except ImportError:  # imported by path, as lrfind does: the folder is on sys.path
    from tiny import _data, _loader, build


def _model() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))


def strings_loader() -> tuple:
    return _model(), ["first batch", "second batch"], nn.MSELoss()


def none_loader() -> tuple:
    return _model(), [None, None], nn.MSELoss()


def empty_loader() -> tuple:
    empty = torch.utils.data.TensorDataset(torch.zeros(0, 4), torch.zeros(0, 1))
    return _model(), torch.utils.data.DataLoader(empty, batch_size=4), nn.MSELoss()


def shape_mismatch() -> tuple:
    """The data has 4 features, the model expects 5."""
    return nn.Linear(5, 1), _loader(), nn.MSELoss()


def integer_data() -> tuple:
    x, y = _data()
    dataset = torch.utils.data.TensorDataset(x.round().long(), y.round().long().unsqueeze(1))
    return _model(), torch.utils.data.DataLoader(dataset, batch_size=16), nn.MSELoss()


def _targets(y: torch.Tensor, loss: nn.Module, width: int = 1) -> tuple:
    x, _ = _data()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, width))
    return model, torch.utils.data.DataLoader(list(zip(x, y, strict=True)), batch_size=16), loss


def flat_regression_targets() -> tuple:
    """(N,) targets for a (N, 1) output: MSELoss only warns, and compares all N x N pairs."""
    _, y = _data()
    return _targets(y, nn.MSELoss())


def flat_binary_targets() -> tuple:
    """(N,) 0/1 labels for BCEWithLogitsLoss on a (N, 1) output."""
    _, y = _data()
    return _targets((y > 0).float(), nn.BCEWithLogitsLoss())


def class_ids_from_one() -> tuple:
    """Labels 1 and 2 for a model with two class scores (ids 0 and 1)."""
    _, y = _data()
    return _targets((y > 0).long() + 1, nn.CrossEntropyLoss(), width=2)


def probabilities_loss_on_logits() -> tuple:
    """BCELoss (it takes probabilities) on a raw output."""
    _, y = _data()
    return _targets((y > 0).float().unsqueeze(1), nn.BCELoss())


def int32_class_ids() -> tuple:
    """Class ids as int32, as torch.from_numpy gives them for numpy's or pandas' ints."""
    _, y = _data()
    return _targets((y > 0).int(), nn.CrossEntropyLoss(), width=2)


def column_class_ids() -> tuple:
    """Class ids of shape (N, 1) for cross-entropy."""
    _, y = _data()
    return _targets((y > 0).long().unsqueeze(1), nn.CrossEntropyLoss(), width=2)


class _Tagger(nn.Module):
    """A token classifier: (N, T) ids in, (N, T, C) scores out."""

    def __init__(self) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(10, 8), nn.Linear(8, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


def sequence_class_ids() -> tuple:
    """Scores of shape (N, T, C) for ids (N, T), straight to cross-entropy."""
    g = torch.Generator().manual_seed(0)
    ids, tags = torch.randint(0, 10, (64, 5), generator=g), torch.randint(0, 3, (64, 5))
    loader = torch.utils.data.DataLoader(list(zip(ids, tags, strict=True)), batch_size=16)
    return _Tagger(), loader, nn.CrossEntropyLoss()


def numpy_batches() -> tuple:
    """Batches of numpy arrays, with no DataLoader to collate them into tensors."""
    x, y = _data()
    batches = [(x[i : i + 16].numpy(), y[i : i + 16, None].numpy()) for i in range(0, 64, 16)]
    return _model(), batches, nn.MSELoss()


def text_batches() -> tuple:
    """Text that was never tokenized: the default collate gives a tuple of strings."""
    _, y = _data()
    samples = [(f"sample {i}", y[i : i + 1]) for i in range(64)]
    return _model(), torch.utils.data.DataLoader(samples, batch_size=16), nn.MSELoss()


class _TwoInputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 1), nn.Linear(4, 1)

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return self.a(first) + self.b(second)


def two_input_pairs() -> tuple:
    """((x1, x2), y) batches for forward(x1, x2)."""
    x, y = _data()
    samples = [((x[i], -x[i]), y[i : i + 1]) for i in range(64)]
    return _TwoInputs(), torch.utils.data.DataLoader(samples, batch_size=16), nn.MSELoss()


def val_batch_of_one() -> dict:
    """BatchNorm, and a val_loader whose last batch holds 1 sample (17 = 16 + 1)."""
    x, y = _data()
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    val = torch.utils.data.TensorDataset(x[:17], y[:17, None])
    return {"model": model, "train_loader": _loader(), "loss_fn": nn.MSELoss(),
            "val_loader": torch.utils.data.DataLoader(val, batch_size=16)}  # fmt: skip


def float64_data() -> tuple:
    """numpy arrays through torch.from_numpy: float64, for a float32 model."""
    x, y = _data()
    dataset = torch.utils.data.TensorDataset(x.double(), y.double())
    return _model(), torch.utils.data.DataLoader(dataset, batch_size=16), nn.MSELoss()


def bfloat16_model() -> tuple:
    return _model().to(torch.bfloat16), _loader(), nn.MSELoss()


def frozen() -> tuple:
    model = _model().requires_grad_(False)
    return model, _loader(), nn.MSELoss()


def loss_not_scalar() -> tuple:
    return _model(), _loader(), nn.MSELoss(reduction="none")


def loss_without_grad() -> tuple:
    return _model(), _loader(), lambda out, y: nn.functional.mse_loss(out, y).detach()


def loss_not_tensor() -> tuple:
    return _model(), _loader(), lambda out, y: nn.functional.mse_loss(out, y).item()


def nan_from_start() -> tuple:
    return _model(), _loader(), lambda out, y: nn.functional.mse_loss(out, y) * float("nan")


def negative_loss() -> tuple:
    """A loss offset far below zero (like a log-likelihood): it must still sweep and stop."""
    return _model(), _loader(), lambda out, y: nn.functional.mse_loss(out, y) - 100.0


def loss_reaching_zero() -> tuple:
    """A hinge-like loss that training drives to exactly 0."""
    return _model(), _loader(), lambda out, y: torch.relu(nn.functional.mse_loss(out, y) - 20.0)


class RaisesAtStep(nn.Module):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.inner, self.step, self.calls = _model(), step, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.step:
            raise RuntimeError(f"CUDA-like failure in layer 2 at call {self.calls}")
        return self.inner(x)


def raises_mid_sweep(step: int = 5) -> tuple:
    return RaisesAtStep(step), _loader(), nn.MSELoss()


class BrokenDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple:
        raise FileNotFoundError(f"image_{i}.png")


def loader_raises() -> tuple:
    return _model(), torch.utils.data.DataLoader(BrokenDataset(), batch_size=4), nn.MSELoss()


def tuples_without_loss_fn() -> tuple:
    return _model(), _loader()


def dicts_without_labels() -> tuple:
    x, _ = _data()
    return _model(), [{"features": x[:8]}], nn.MSELoss()


def output_without_loss() -> tuple:
    class Plain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _model()

        def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return self.net(features)

    x, y = _data()
    return Plain(), [{"features": x[:8], "labels": y[:8]}]


def optimizer_not_callable() -> dict:
    model, loader, loss = build()
    return {"model": model, "train_loader": loader, "loss_fn": loss, "optimizer": "adam"}


def optimizer_factory_raises() -> dict:
    model, loader, loss = build()
    factory = lambda params: torch.optim.SGD(params, lr=-1.0)  # noqa: E731
    return {"model": model, "train_loader": loader, "loss_fn": loss, "optimizer": factory}


def foreign_optimizer() -> dict:
    model, loader, loss = build()
    other = nn.Linear(4, 1)
    return {
        "model": model,
        "train_loader": loader,
        "loss_fn": loss,
        "optimizer": torch.optim.SGD(other.parameters(), lr=0.1),
    }


class Slow(nn.Module):
    """Sleeps each step and touches $LRFIND_TEST_MARKER once the sweep runs (for SIGINT tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = _model()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        marker = os.environ.get("LRFIND_TEST_MARKER")
        if marker:
            Path(marker).touch()
        time.sleep(0.02)
        return self.inner(x)


def slow() -> tuple:
    return Slow(), _loader(), nn.MSELoss()


class _SlowData(torch.utils.data.Dataset):
    """Each sample takes 10 ms: the sweep waits on its workers most of the time."""

    def __init__(self) -> None:
        self.x, self.y = _data()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        time.sleep(0.01)
        return self.x[i], self.y[i : i + 1]


def slow_workers() -> tuple:
    """A model that marks the sweep's start, fed by 2 slow fork workers (for signal tests)."""
    loader = torch.utils.data.DataLoader(_SlowData(), batch_size=16, shuffle=True, num_workers=2)
    return Slow(), loader, nn.MSELoss()

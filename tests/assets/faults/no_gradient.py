"""Losses the parameters cannot move: a detached output (no gradient at all) and a
constant loss (gradients, all zero). Tiny and fast: 4 features, 2 classes."""

import torch
from torch import nn


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (torch.randn(8, 4, generator=g), torch.randint(0, 2, (8,), generator=g)) for _ in range(5)
    ]


def detached():
    return (
        nn.Linear(4, 2),
        _data(),
        lambda out, y: nn.functional.cross_entropy(out.detach().requires_grad_(), y),
    )


def constant():
    return nn.Linear(4, 2), _data(), lambda out, y: (out * 0).sum() + 1.0

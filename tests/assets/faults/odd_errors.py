"""(b) the user's exception is hard to print: forward() raises at its 5th call an exception
whose __str__ itself raises, one with a 5,000-character or 200-line message, or a
KeyboardInterrupt of its own (no signal came); build_exit()
calls sys.exit() with an object whose __str__ and __repr__ raise."""

import sys

import torch
from faultkit import loader, mlp
from torch import nn


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")

    def __repr__(self) -> str:
        raise RuntimeError("no text")


def _error(kind: str) -> BaseException:
    if kind == "interrupt":
        return KeyboardInterrupt()
    if kind == "unprintable":
        return Unprintable()
    if kind == "long":
        return ValueError("x" * 5000)
    return ValueError("\n".join(f"line {i}" for i in range(200)))


class Raises(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.net, self.calls, self.kind = mlp(), 0, kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == 5:
            raise _error(self.kind)
        return self.net(x)


def build(kind: str = "unprintable") -> tuple:
    return Raises(kind), loader(), nn.MSELoss()


def build_exit() -> tuple:
    sys.exit(Unprintable())

"""(c) set-up: the train_loader's __iter__ raises (a streaming loader that cannot open
its source)."""

from faultkit import mlp
from torch import nn


class Stream:
    def __iter__(self):
        raise ConnectionError("cannot reach the data server at 10.0.0.5:9000")


def build() -> tuple:
    return mlp(), Stream(), nn.MSELoss()

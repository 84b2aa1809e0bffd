"""The per-step validation pass with BatchNorm on batch statistics, leaving no trace.

In eval mode BatchNorm normalises with its running statistics, an average of
the last ~10 steps' batches (momentum 0.1). With an LR that rises every step
the weights move faster than that average: it describes older weights, and
the eval-mode loss blows up while the training loss still falls (measured on
a BN conv net and on GoogLeNet: a false divergence, the suggestion one to two
decades low). On the batch's own statistics the validation loss follows the
training curve and still measures held-out data. The forward updates the
running buffers, so they are saved before and put back after.
"""

from __future__ import annotations

from types import TracebackType

import torch
from torch import nn


class BatchStats:
    """Context manager: the model's BatchNorm layers in train mode, their buffers restored on exit.

    Everything else stays as the caller left it (eval mode: dropout off). With
    no BatchNorm layer it does nothing. Only the layers in train mode when it is made (the
    ones that train in the sweep) are switched: a frozen layer the user keeps in eval mode
    normalises with its running statistics in training, and they do not lag.
    """

    def __init__(self, model: nn.Module) -> None:
        norm = nn.modules.batchnorm._BatchNorm  # BatchNorm1d/2d/3d, SyncBatchNorm, LazyBatchNorm*
        self.layers = [
            m
            for m in model.modules()
            if isinstance(m, norm) and m.track_running_stats and m.training
        ]
        self.saved: list[torch.Tensor] = []

    def _buffers(self) -> list[torch.Tensor]:
        names = ("running_mean", "running_var", "num_batches_tracked")
        return [b for m in self.layers for n in names if (b := getattr(m, n, None)) is not None]

    def __enter__(self) -> BatchStats:
        if self.layers:
            self.saved = [b.detach().clone() for b in self._buffers()]
            for layer in self.layers:
                layer.train()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.layers:
            return
        with torch.no_grad():
            for buffer, value in zip(self._buffers(), self.saved, strict=True):
                buffer.copy_(value)
        self.saved = []
        for layer in self.layers:
            layer.eval()

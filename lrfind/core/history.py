"""History: what a sweep recorded. No torch, so a saved report can be read back without it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from lrfind.core.training import Training

#: Why a sweep ended: it ran every step, the loss blew up, it turned NaN/inf,
#: Ctrl-C stopped it, or the user's code raised.
StopReason = Literal["completed", "diverged", "nan", "interrupted", "error"]
STOP_REASONS: tuple[StopReason, ...] = ("completed", "diverged", "nan", "interrupted", "error")


@dataclass(frozen=True, kw_only=True, repr=False)  # the default repr prints every point
class History:
    """What the sweep recorded, one entry per optimizer step that counted.

    Built with keywords only: most fields are numbers of the same type, and a
    positional mix-up would go unnoticed.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    stop_reason: StopReason
    #: Steps that ran after the stop point before it was seen (accelerators only).
    overshoot: int = 0
    #: fp16 steps the GradScaler skipped (inf/NaN gradients): points whose update was not made.
    skipped: int = 0
    #: Seconds spent copying the model, building the optimizer and compiling.
    setup_s: float = 0.0
    #: Seconds spent in the optimizer steps themselves.
    loop_s: float = 0.0
    #: Whether training batches came from pinned host memory (CUDA only).
    pinned: bool = False
    #: Caveats about how the sweep ran (not about the curve), ending in the fix.
    warnings: tuple[str, ...] = ()
    #: The torch.optim class that drove the sweep, e.g. "AdamW" (for the sanity priors).
    optimizer: str = ""
    #: How the steps were taken: the optimizer and its groups, clipping, the stack (None: unknown).
    training: Training | None = None

    def __repr__(self) -> str:
        span = f"{self.lrs[0]:.3g} to {self.lrs[-1]:.3g}" if self.lrs else "none"
        return (
            f"History(steps_run={self.steps_run}, lrs={span}, "
            f"stop_reason={self.stop_reason!r}, optimizer={self.optimizer!r})"
        )

    @property
    def is_smoothed(self) -> bool:
        """Whether the curve read differs from the raw loss (the robust curve does, by default)."""
        pairs = zip(self.losses, self.smoothed, strict=False)
        return any(a != b for a, b in pairs if math.isfinite(a))

    @property
    def steps_run(self) -> int:
        return len(self.lrs)

    def to_dict(self) -> dict[str, list[float]]:
        """The curve as the report stores it (lrfind.output.reader reads it back)."""
        return {"lr": self.lrs, "loss": self.losses, "smoothed_loss": self.smoothed}

"""--refine: the rule that moves the sweep's suggestion by short constant-LR probes.

A range test sees each LR for one step, and its error is a task's: the same
task is off the same way sweep after sweep (docs/quality.md), so no rule on
the curve alone removes it. A probe trains a fresh copy at one constant LR
for as many steps as the sweep had. The rule, measured on the suite and three
held-out sets (benchmarks/quality_probe.py): from the suggestion, move half a
decade up or down while the neighbour lowers BOTH the probe's training loss
(the mean over its last quarter of steps) AND its validation loss at the end,
at most a decade either way. Neither signal alone transfers: the training
loss alone picks LRs that overfit small data sets, the validation loss alone
picks the noise of small validation sets.

This module is the rule and its record, without torch: the probes themselves
are lrfind.sweep.probe's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

STEP = 0.5  # decades per move
REACH = 1.0  # decades at most from the sweep's suggestion


@dataclass(frozen=True)
class Probe:
    """One probe: `steps` steps at a constant `lr` from a fresh copy of the model.

    `train_loss` is the mean batch loss over the last quarter of the steps and
    `val_loss` the validation loss after them; both are inf when the loss
    turned non-finite (the probe then stops at once).
    """

    lr: float
    train_loss: float
    val_loss: float
    steps: int

    def beats(self, other: Probe) -> bool:
        """Lower on both losses: the only evidence the rule moves on."""
        return self.train_loss < other.train_loss and self.val_loss < other.val_loss

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "train_loss": self.train_loss, "val_loss": self.val_loss,
                "steps": self.steps}  # fmt: skip


@dataclass(frozen=True)
class Refinement:
    """The probes run around the sweep's suggestion, and the LR they settled on.

    `interrupted` is set when a Ctrl-C ended the probes: `lr` is then the
    best LR among those probed before it (by the same rule).
    """

    swept_lr: float
    lr: float
    probes: list[Probe]
    interrupted: bool = False

    @property
    def decades(self) -> float:
        """How far the probes moved the suggestion (+: higher)."""
        return math.log10(self.lr / self.swept_lr)

    @property
    def diverged(self) -> list[Probe]:
        """The probes whose loss turned non-finite (they stopped at that step)."""
        return [p for p in self.probes if not math.isfinite(p.train_loss)]

    def line(self) -> str:
        """One line for the terminal, e.g. "Refined by 3 probes of 100 steps: ..."."""
        if not self.probes:
            return f"Refinement interrupted in its first probe: kept the sweep's {self.lr:.3g}"
        n, steps = len(self.probes), max(p.steps for p in self.probes)
        tried = ", ".join(f"{p.lr:.3g}" for p in sorted(self.probes, key=lambda p: p.lr))
        if self.lr == self.swept_lr:
            moved = f"kept the sweep's {self.swept_lr:.3g}"
        else:
            moved = f"{self.swept_lr:.3g} -> {self.lr:.3g} ({self.decades:+.1f} decades)"
        notes = [f"{len(self.diverged)} diverged"] if self.diverged else []
        notes += ["interrupted"] if self.interrupted else []
        cut = "".join(f"; {x}" for x in notes)
        return f"Refined by {n} probe{'s' * (n != 1)} of {steps} steps (lr {tried}): {moved}{cut}"

    @classmethod
    def from_dict(cls, saved: Any) -> Refinement:
        """The refinement a report's "refine" holds (null losses: inf); raises if it is not one."""
        probes = [
            Probe(float(p["lr"]), _loss(p["train_loss"]), _loss(p["val_loss"]), int(p["steps"]))
            for p in saved["probes"]
        ]
        return cls(float(saved["swept_lr"]), float(saved["lr"]), probes, bool(saved["interrupted"]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "swept_lr": self.swept_lr,
            "lr": self.lr,
            "decades": self.decades,
            "interrupted": self.interrupted,
            "probes": [p.to_dict() for p in self.probes],
        }


def _loss(x: Any) -> float:
    return math.inf if x is None else float(x)


def refine(swept_lr: float, probe: Callable[[float], Probe | None]) -> Refinement:
    """Climb from `swept_lr` by `probe(lr)` (None: interrupted) as the module docstring says.

    Of two neighbours that both beat the current LR, the one with the lower
    training loss wins. Each LR is probed at most once.
    """
    done: dict[float, Probe] = {}

    def at(offset: float) -> Probe | None:
        if offset not in done:
            result = probe(swept_lr * 10**offset)
            if result is None:
                return None
            done[offset] = result
        return done[offset]

    current = 0.0
    if at(current) is None:
        return Refinement(swept_lr, swept_lr, [], interrupted=True)
    while True:
        better = []
        for offset in (current - STEP, current + STEP):
            if abs(offset) > REACH + 1e-9 or (
                offset in done and not done[offset].beats(done[current])
            ):
                continue
            found = at(offset)
            if found is None:  # a neighbour that already won is the best LR probed
                best = min(better, key=lambda o: (done[o].train_loss, o)) if better else current
                return _made(swept_lr, best, done, interrupted=True)
            if found.beats(done[current]):
                better.append(offset)
        if not better:
            return _made(swept_lr, current, done)
        current = min(better, key=lambda o: (done[o].train_loss, o))


def _made(
    swept_lr: float, current: float, done: dict[float, Probe], *, interrupted: bool = False
) -> Refinement:
    probes = [done[o] for o in sorted(done)]
    return Refinement(swept_lr, swept_lr * 10**current, probes, interrupted)

"""What the sweep trained with: the optimizer, its param groups, clipping, precision, the stack.

Torch-free: lrfind.sweep fills it in from the live objects; the report, the
terminal, the plot title and the schedule snippets read it. A range test is
only as good as its likeness to the training it stands for, so all of it is
said out loud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The optimizer lrfind sweeps when nothing names one (see lrfind.sweep.optim).
DEFAULT_OPTIMIZER = "SGD(momentum=0.9)"
_SHOWN = ("momentum", "nesterov", "betas", "eps", "weight_decay", "fused")


@dataclass(frozen=True)
class Group:
    """One param group: its LR as a multiple of the headline LR, and what sets it apart."""

    ratio: float
    params: int
    weight_decay: float | None = None
    #: timm's layer-wise LR decay factor, already part of `ratio`.
    lr_scale: float | None = None


@dataclass(frozen=True)
class Training:
    """How the sweep's steps were taken.

    Attributes:
        optimizer: the torch.optim class name, e.g. "AdamW".
        origin: where it came from: "lrfind's default", "build", "--optimizer",
            or the stack's own ("the Trainer's create_optimizer", "configure_optimizers").
        hyper: the optimizer's plain hyperparameters (momentum, betas, eps ...).
        groups: every param group; the headline LR is group 0's base LR
            (before any lr_scale).
        stack: "transformers.Trainer" or "LightningModule" when build returned one.
        took / set_aside: what lrfind used from the stack, and what it left out.
        notes: how lrfind read the model's outputs, said once (appended during the sweep).
    """

    optimizer: str
    origin: str
    hyper: dict[str, Any] = field(default_factory=dict)
    groups: tuple[Group, ...] = ()
    clip_grad: float | None = None
    clip_mode: str = "norm"
    accumulate: int = 1
    amp: str | None = None
    stack: str | None = None
    took: tuple[str, ...] = ()
    set_aside: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def default(self) -> bool:
        """Whether this is lrfind's own SGD(momentum=0.9), not the user's optimizer."""
        return self.origin == "lrfind's default"

    @property
    def ratios(self) -> list[float]:
        """Each group's LR as a multiple of the headline LR (what the schedules must keep)."""
        return [g.ratio for g in self.groups] or [1.0]

    @property
    def groups_differ(self) -> bool:
        return len({round(r, 12) for r in self.ratios}) > 1

    def label(self) -> str:
        """The optimizer in a few words, for the plot title: "AdamW", "SGD (lrfind's default)"."""
        return f"{self.optimizer} (lrfind's default)" if self.default else self.optimizer

    def lines(self) -> list[str]:
        """What the terminal says about the training the sweep stood for."""
        if self.default:
            head = (
                f"Swept: {DEFAULT_OPTIMIZER}, lrfind's default: to sweep yours, pass "
                "--optimizer NAME or return your optimizer from build"
            )
        else:
            head = f"Swept: {self.optimizer}{_hyper(self.hyper, self.optimizer)} ({self.origin})"
        extras = [g for g in (_groups(self.groups), *self._settings()) if g]
        lines = ["; ".join([head, *extras])]
        if self.stack is not None:
            took = ", ".join(self.took) or "nothing"
            lines.append(f"From the {self.stack}: {took}")
            if self.set_aside:
                aside = ", ".join(self.set_aside)
                lines.append(f"Set aside (a range test sets its own LR): {aside}")
        return lines

    def _settings(self) -> list[str]:
        out = []
        if self.clip_grad:
            out.append(f"gradients clipped at {self.clip_mode} {self.clip_grad:g}")
        if self.accumulate > 1:
            out.append(f"{self.accumulate} micro-batches per step")
        if self.amp:
            out.append(f"autocast {self.amp}")
        return out

    def to_dict(self, suggested_lr: float | None) -> dict[str, Any]:
        """JSON-ready, for the report; each group's LR at the suggestion."""
        return {
            "optimizer": self.optimizer,
            "origin": self.origin,
            "default": self.default,
            "hyperparameters": dict(self.hyper),
            "param_groups": [
                {
                    "lr_ratio": g.ratio,
                    "lr_at_suggestion": None if suggested_lr is None else suggested_lr * g.ratio,
                    "params": g.params,
                    "weight_decay": g.weight_decay,
                    "lr_scale": g.lr_scale,
                }
                for g in self.groups
            ],
            "clip_grad": self.clip_grad,
            "clip_mode": self.clip_mode,
            "accumulate": self.accumulate,
            "amp": self.amp,
            "stack": self.stack,
            "took": list(self.took),
            "set_aside": list(self.set_aside),
            "notes": list(self.notes),
        }


def _hyper(hyper: dict[str, Any], optimizer: str = "") -> str:
    # Zeros and False are defaults, left out; but an SGD without momentum says so, beside
    # lrfind's default SGD(momentum=0.9).
    keep = {"momentum"} if optimizer == "SGD" else set()
    shown = [
        f"{k}={_num(hyper[k])}"
        for k in _SHOWN
        if hyper.get(k) is not None and hyper.get(k) is not False and (hyper[k] != 0 or k in keep)
    ]
    return f"({', '.join(shown)})" if shown else ""


def _groups(groups: tuple[Group, ...]) -> str:
    if len(groups) < 2:
        return ""
    ratios = [g.ratio for g in groups]
    if len(groups) <= 4:
        lrs = ", ".join(f"{r:.3g}" for r in ratios)
    else:
        lrs = f"{min(ratios):.3g} to {max(ratios):.3g}"
    text = f"{len(groups)} param groups at {lrs} x the LR"
    if any(g.lr_scale is not None for g in groups):
        text += " (timm's lr_scale applied, as its schedulers do)"
    decays = [g.weight_decay for g in groups]
    known = [d for d in decays if d is not None]
    if len(set(known)) > 1:  # in group order, as the LRs are: one shared decay is in the head
        if len(groups) <= 4:
            each = " / ".join("?" if d is None else f"{d:g}" for d in decays)
        else:
            each = f"{min(known):g} to {max(known):g}"
        text += f", weight decay {each}"
    return text


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_num(v) for v in value) + ")"
    return str(value)

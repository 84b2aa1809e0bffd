"""SweepConfig: every setting of one range test, validated in one place.

This module imports neither torch nor numpy, so usage errors stay instant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from lrfind.errors import ConfigError


class Mode(str, Enum):
    """How the LR grows from start to end."""

    EXP = "exp"
    LINEAR = "linear"


# The names of the suggestion methods (lrfind.core.suggest.METHODS holds the
# functions, lrfind.core.robust_suggest the default; a test keeps the two in
# step). Kept here so that validating a config never imports numpy.
# "robust": the minimum of the robust curve (centred median + mean) / divisor,
# chosen on the tuning half of benchmarks/quality_suite.py (docs/quality.md).
METHOD_NAMES: tuple[str, ...] = ("robust", "min_div_10", "steepest", "valley")
DEFAULT_METHOD = "robust"

# Optimizers selectable by name: lower-case name -> torch.optim class name.
# LBFGS is left out on purpose: it needs a closure, not one step per batch.
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adadelta": "Adadelta",
    "asgd": "ASGD",
    "rprop": "Rprop",
}

MAX_STEPS = 1_000_000
# The fewest steps a suggestion can come from. The suggestion window
# (lrfind.core.curve.edges) drops up to 10% of the points at the start and the
# last 3 (the stop point and the two before it); what is left must hold at
# least 3 points, the fewest lrfind.core.uncertainty.assess judges a curve on
# (a minimum between two neighbours). 6 steps: 6 - 0 - 3 = 3 points; 5 leave 2.
# tests/test_faults_cli.py checks this against curve.edges itself.
MIN_WINDOW = 3
MIN_STEPS = 6
MAX_ACCUMULATE = 4096
MAX_REPEATS = 100
STEPS_WHY = (
    "the default suggestion needs 5 finite losses; min_div_10, steepest and valley skip "
    f"up to 10% of the points at the start and the last 3, and need {MIN_WINDOW} left"
)
AMP_MODES = (None, "bf16", "fp16")
CLIP_MODES = ("norm", "value")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class SweepConfig:
    """The settings of one LR range test.

    Invalid values raise :class:`lrfind.ConfigError` listing every problem.

    Example:
        >>> SweepConfig(end_lr=1.0, steps=200).end_lr
        1.0
    """

    start_lr: float = 1e-7
    end_lr: float = 10.0
    steps: int = 100
    mode: str = "exp"
    smoothing: float = 0.0
    #: None: the robust stop rule (stop_k, stop_fraction); a number > 1: the ratio rule of
    #: lrfind 0.1 instead (stop when the smoothed loss exceeds this x its best).
    diverge_threshold: float | None = None
    #: The robust stop rule fires when the rolling median of 5 raw losses is this many noise
    #: scales above its best ...
    stop_k: float = 12.0
    #: ... and at least this fraction of the way back up to where the curve started.
    stop_fraction: float = 1.0
    #: The robust suggestion: the LR of the left edge of the robust curve's minimum's basin
    #: (half a noise scale above the minimum) / divisor.
    divisor: float = 5.0
    seed: int = 0
    device: str = "auto"
    method: str = DEFAULT_METHOD
    #: A torch.optim name (see OPTIMIZERS); None: what build returned, else SGD(momentum=0.9).
    optimizer: str | None = None
    #: Keyword arguments for the named optimizer (never "lr": the sweep sets it).
    optimizer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    #: Mixed precision: None, "bf16" or "fp16" (fp16 uses a GradScaler).
    amp: str | None = None
    #: Micro-batches per optimizer step (one LR point per optimizer step).
    accumulate: int = 1
    #: torch.compile the sweep's copy (compile time is kept out of the sweep).
    compile: bool = False
    #: channels-last memory format for the copy and 4-d inputs (conv nets).
    channels_last: bool = False
    #: After the sweep, move its suggestion by short constant-LR probes judged on the
    #: training and validation loss (lrfind.core.refinement); needs a val_loader.
    refine: bool = False
    #: Sweeps to run, with seeds seed, seed + 1, ...; the suggestion is their median.
    repeats: int = 1
    #: Measure the loss on this many fixed val_loader batches (None: all of them).
    val_batches: int | None = None
    #: Clip gradients before each optimizer step at this size (None or 0: no clipping;
    #: a Trainer's max_grad_norm or Lightning's gradient_clip_val when build gives one).
    clip_grad: float | None = None
    #: What clip_grad bounds: "norm" (the total 2-norm, clip_grad_norm_) or "value" (each element).
    clip_mode: str = "norm"

    def __post_init__(self) -> None:
        if isinstance(self.mode, Mode):
            object.__setattr__(self, "mode", self.mode.value)
        if isinstance(self.optimizer, str):
            object.__setattr__(self, "optimizer", self.optimizer.lower())
        if isinstance(self.device, str):  # "CPU", "Cuda:0": torch takes lower case only
            object.__setattr__(self, "device", self.device.strip().lower())
        problems = [f"{name} = {getattr(self, name)!r}: {msg}" for name, msg in check(self)]
        if problems:
            raise ConfigError(problems)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for the report."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["optimizer_kwargs"] = dict(self.optimizer_kwargs)
        return out


def check(values: Any) -> list[tuple[str, str]]:
    """Return (field, problem) pairs for anything wrong in `values`.

    `values` is a SweepConfig or any object with the same attributes; types are
    checked too, because configs and keyword arguments arrive untyped.
    """
    problems: list[tuple[str, str]] = []

    def bad(name: str, msg: str) -> None:
        problems.append((name, msg))

    start, end = values.start_lr, values.end_lr
    start_ok = _is_real(start) and math.isfinite(start) and start > 0
    if not start_ok:
        bad("start_lr", "must be a finite number > 0")
    if not (_is_real(end) and math.isfinite(end) and end > 0):
        bad("end_lr", "must be a finite number > 0")
    elif start_ok and end <= start:
        bad("end_lr", f"must be greater than start_lr ({start:g})")
    elif start_ok and math.log10(end / start) > 300:  # the LRs between would overflow
        bad("end_lr", f"must be within 300 decades of start_lr ({start:g})")
    if not (_is_int(values.steps) and 1 <= values.steps <= MAX_STEPS):
        bad("steps", f"must be an integer from {MIN_STEPS} to {MAX_STEPS:,}")
    elif values.steps < MIN_STEPS:
        bad("steps", f"too few for a suggestion: use at least {MIN_STEPS} ({STEPS_WHY})")
    if values.mode not in [m.value for m in Mode]:
        bad("mode", "must be 'exp' or 'linear'")
    if not (_is_real(values.smoothing) and 0 <= values.smoothing < 1):
        bad("smoothing", "must be in [0, 1): the weight of the newest loss (0 = off)")
    threshold = values.diverge_threshold
    bad_threshold = not (_is_real(threshold) and threshold > 1 and math.isfinite(threshold))
    if threshold is not None and bad_threshold:
        bad("diverge_threshold", "must be a finite number > 1 (the sweep stops at it x best)")
    for name, low, what in (
        ("stop_k", 0.0, "noise scales of rise that stop the sweep"),
        ("stop_fraction", 0.0, "share of the descent the loss must climb back to stop"),
        ("divisor", 1.0, "the suggestion is the LR of the basin's left edge / divisor"),
    ):
        v = getattr(values, name)
        bound = "> 0" if name == "stop_k" else f">= {low:g}"
        if not (_is_real(v) and math.isfinite(v) and v >= low) or (name == "stop_k" and v == 0):
            bad(name, f"must be a finite number {bound} ({what})")
    if not (_is_int(values.seed) and 0 <= values.seed < 2**63):
        bad("seed", "must be an integer from 0 to 2**63 - 1")
    elif _is_int(values.repeats) and values.repeats > 1 and values.seed + values.repeats > 2**63:
        bad("seed", f"must leave room for --repeats {values.repeats} (seeds seed to seed + "
            f"{values.repeats - 1}): at most 2**63 - {values.repeats}")  # fmt: skip
    if not (isinstance(values.device, str) and _DEVICE_RE.match(values.device.strip().lower())):
        bad("device", "must be auto, cpu, cuda, cuda:N or mps")
    if values.method not in METHOD_NAMES:
        bad("method", f"must be one of {', '.join(METHOD_NAMES)}")
    opt = values.optimizer
    if opt is not None and not (isinstance(opt, str) and opt.lower() in OPTIMIZERS):
        bad("optimizer", f"unknown optimizer; choose one of {', '.join(OPTIMIZERS)}")
    if values.amp not in AMP_MODES:
        bad("amp", "must be bf16 or fp16 (or unset for full precision)")
    if not (_is_int(values.accumulate) and 1 <= values.accumulate <= MAX_ACCUMULATE):
        bad("accumulate", f"must be an integer from 1 to {MAX_ACCUMULATE}")
    if not (_is_int(values.repeats) and 1 <= values.repeats <= MAX_REPEATS):
        bad("repeats", f"must be an integer from 1 to {MAX_REPEATS}")
    vb = values.val_batches
    if vb is not None and not (_is_int(vb) and vb >= 1):
        bad("val_batches", "must be an integer >= 1 (batches of the val_loader per step)")
    clip = values.clip_grad
    if clip is not None and not (_is_real(clip) and math.isfinite(clip) and clip >= 0):
        bad("clip_grad", "must be a finite number >= 0 (0 = no clipping)")
    if values.clip_mode not in CLIP_MODES:
        bad("clip_mode", f"must be one of {', '.join(CLIP_MODES)}")
    for flag in ("compile", "channels_last", "refine"):
        if not isinstance(getattr(values, flag), bool):
            bad(flag, "must be true or false")
    kwargs = values.optimizer_kwargs
    if not isinstance(kwargs, Mapping):
        bad("optimizer_kwargs", "must be a table of keyword arguments")
    elif "lr" in kwargs:
        bad("optimizer_kwargs", "must not set lr: the sweep sets the learning rate")
    elif kwargs and opt is None:
        bad("optimizer_kwargs", "given without an optimizer name")
    return problems


def _is_real(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)

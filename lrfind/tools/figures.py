"""The PNGs of `lrfind schedule` and `lrfind diagnose`: bare matplotlib Figures, no pyplot.

Each function returns the Figure, so a notebook shows it and a test can read
its lines back; `save_figure` writes one atomically. matplotlib is imported
only here, inside the functions.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lrfind.output.files import write_atomic
from lrfind.output.mpl import load_matplotlib, quiet_float_errors
from lrfind.tools.diagnose import Diagnosis
from lrfind.tools.losses import LossLog
from lrfind.tools.schedule import Trace

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_COLORS = ["#1f4e8c", "#c0392b", "#1e8449", "#8e44ad", "#d35400", "#16a085", "#7f8c8d",
           "#b7950b", "#2e86c1", "#6c3483"]  # fmt: skip
_KIND_COLORS = {"diverging": "#c0392b", "stuck": "#b7950b", "oscillating": "#d35400",
                "overfitting": "#8e44ad", "healthy": "#1e8449"}  # fmt: skip


def schedule_figure(
    traces: Sequence[Trace],
    base_lr: float,
    log_y: bool = False,
    overlay: bool = False,
    origin: str | None = None,
) -> Figure:
    """Each trace's LR over the steps: one panel each (side by side), or all on one axis.

    `origin` says where base_lr came from, for the title ("report.json's LR"); "--lr" if None.

    Every line is labelled with its scheduler's name, so `fig.axes[i].lines` says
    what was drawn where.
    """
    load_matplotlib()
    from matplotlib.figure import Figure

    n = 1 if overlay else len(traces)
    cols = min(3, n)
    rows = -(-n // cols)
    size = (10, 5.5) if overlay else (4.2 * cols, 3.1 * rows + 0.6)
    fig = Figure(figsize=size, dpi=110, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel()
    for i, trace in enumerate(traces):
        ax = axes[0 if overlay else i]
        color = _COLORS[i % len(_COLORS)]
        ax.plot(range(len(trace.lrs)), trace.lrs, color=color, lw=2, label=trace.name)
        if not overlay:
            title = trace.call.split("(")[0]
            if title == "SequentialLR":
                title = "SequentialLR: LinearLR warmup, then cosine"
            ax.set_title(title, fontsize=10)
    for ax in axes[:n]:
        if log_y:
            ax.set_yscale("log", nonpositive="mask")  # an LR of 0 (cosine's end) has no log
        ax.axhline(base_lr, color="#555555", ls=":", lw=1, zorder=0)
        ax.grid(True, alpha=0.3)
        ax.set_xlabel("step")
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].set_ylabel("learning rate" + (" (log)" if log_y else ""))
    if overlay:
        axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    steps = len(traces[0].lrs) if traces else 0
    title = (f"torch.optim.lr_scheduler, stepped {steps} times from {origin or '--lr'} "
             f"{base_lr:.3g} (dotted)")  # fmt: skip
    # Wrapped to the figure's width (about 8.5 characters an inch at 12 points): one panel
    # is 4.2 inches wide, and the title in one line ran off both sides.
    fig.suptitle("\n".join(textwrap.wrap(title, int(size[0] * 8.5))), fontsize=12)
    return fig


def diagnosis_figure(log: LossLog, diagnosis: Diagnosis) -> Figure:
    """Train (and val) loss over steps or epochs, titled with the class and its evidence."""
    load_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.plot(log.x, log.train, "-o", color="#1f4e8c", lw=2, ms=3, label="train loss")
    if log.val is not None:
        points = [(x, v) for x, v in zip(log.x, log.val, strict=True) if math.isfinite(v)]
        xs, vs = [p[0] for p in points], [p[1] for p in points]
        ax.plot(xs, vs, "-s", color="#d35400", lw=2, ms=3, label="val loss")
        if diagnosis.kind == "overfitting" and vs:
            i = min(range(len(vs)), key=vs.__getitem__)
            ax.plot([xs[i]], [vs[i]], "o", color="#8e44ad", ms=10, label="val minimum")
    ax.set_xlabel(log.x_label)
    finite = [v for v in [*log.train, *(log.val or [])] if math.isfinite(v)]
    # A blow-up to 1e4 would flatten the rest of the run into a line at 0.
    wide = bool(finite) and min(finite) > 0 and max(finite) / min(finite) > 100
    if wide:
        ax.set_yscale("log")
    ax.set_ylabel("loss (log scale)" if wide else "loss")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    fired = next((c for c in diagnosis.checks if c.fired), None)
    color = _KIND_COLORS[diagnosis.kind]
    fig.suptitle(f"diagnosis: {diagnosis.kind}", fontsize=13, color=color, fontweight="bold")
    if fired is not None:
        ax.set_title(fired.evidence, fontsize=9, color=color)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write the Figure as a PNG at `path` (its folder created if needed), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with quiet_float_errors():
        return write_atomic(path, lambda f: fig.savefig(f, format="png"))

"""A fourth fresh held-out set: 10 new tasks, to judge `--refine` from a validation-mode sweep.

    nice -n 10 python benchmarks/quality_holdout4.py                 # everything missing
    python benchmarks/quality_holdout4.py --status                   # what is cached

Why a fourth one: quality_valmode.py found the default's suggestion better on the curve a
`val_loader` gives than on the training loss (the second and third holdouts: 21.2% against
27.0% mean exact regret, 2 against 7 suggestions more than a decade off). `--refine` sweeps
the training loss and probes from that suggestion; it always has validation data, so it
could sweep in validation mode and probe from there instead. Every earlier set has been
looked at for one decision or another, so these 10 tasks were written down, with the
candidate and the decision, and committed before anything was computed on them. Their
combinations of model, data, optimizer, batch and loss are new, and they lean on what the
issue's hidden suite names (tabular, image and text; linear, MLP, CNN, ResNet-18,
transformer; SGD+momentum and AdamW; cross-entropy and MSE).

Ground truth and training-loss sweeps: quality_truth.py's own (grid, seeds, sweep settings,
scoring), cached in benchmarks/results/holdout4-cache.json. Validation-mode sweeps:
quality_valmode.py's (`--sweep holdout4`). Probes: quality_probe.py's (`--probe holdout4`,
from v2 on the training loss) and quality_valmode.py's (`--probe holdout4`, the same five
offsets from v2 on the validation curve).

The candidate, "refine from validation": v2 on the validation-mode sweep, then the shipped
rule ("climb both", lrfind/core/refinement.py) on probes around that suggestion. The
incumbent: `--refine` as it ships (v2 on the training-loss sweep, then the same rule).

The decision, fixed now: over these 30 sweeps, if the candidate has (a) a lower mean
interpolated regret than the incumbent and (b) no more suggestions more than 1 decade from
the grid best, `--refine` will sweep in validation mode and probe from that suggestion;
otherwise it stays as it is. Reported either way: both, v2 on both curves with no probes,
fastai's `minimum` on both curves, and exact regret for the four lrfind answers.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import BLOCK, VOCAB, Part, _split, _standard, _text, dataset
from quality_holdout import run
from quality_holdout2 import holdout2_dataset, resnet18_gray
from quality_models import CharLM, CharRNN, Squeeze, mlp
from quality_suite import SuiteTask, _task
from quality_truth import RESULTS

CACHE = RESULTS / "holdout4-cache.json"


@functools.cache
def holdout4_dataset(name: str) -> tuple[Part, Part]:
    """(train, validation) of the fourth holdout's sets."""
    from sklearn import datasets as d

    if name == "classif4":  # 4 classes, 10 informative of 20 features, 5% of labels flipped
        x, y = d.make_classification(3000, n_features=20, n_informative=10, n_classes=4,
                                     flip_y=0.05, random_state=12)  # fmt: skip
        return _split(x, y, True)
    if name == "scurve":  # the S curve's position from its 3-D point
        x, t = d.make_s_curve(3000, noise=0.1, random_state=12)
        return _split(x, _standard(t), False)
    if name == "swissroll":
        x, t = d.make_swiss_roll(3000, noise=0.5, random_state=12)
        return _split(x, _standard(t), False)
    if name in ("digits", "cancer"):  # the suite's own splits
        return dataset(name)
    if name == "digits16":
        return holdout2_dataset("digits16")
    if name == "gpl1_lgpl3":
        return _text(["GPL-1", "LGPL-3"], hf=False)
    if name == "gfdl12":
        return _text(["GFDL-1.2"], hf=False)
    if name == "mpl2_hf":
        return _text(["MPL-2.0"], hf=True)
    raise KeyError(name)


def _h4(*args: object, **kw: object) -> SuiteTask:
    """A suite task whose data come from `holdout4_dataset`."""
    return _task(*args, parts_from=holdout4_dataset, **kw)  # type: ignore[arg-type]


def cnn16_gn(n_out: int = 10) -> nn.Sequential:
    """Two 3x3 convolutions with GroupNorm (4 groups), two pools, a linear head; 16x16 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.GroupNorm(4, 16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.GroupNorm(4, 32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, n_out),
    )  # fmt: skip


def mlp_dropout(n_in: int, n_out: int) -> nn.Sequential:
    """Two hidden layers of 128 with dropout 0.2 (the sweep's copy trains with it on)."""
    return nn.Sequential(
        nn.Linear(n_in, 128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, n_out),
    )  # fmt: skip


TASKS: list[SuiteTask] = [
    _h4("classif4_softmax_adamw", "h4_classif_linear",
        "softmax regression, 4-class make_classification, CE, AdamW, batch 64",
        "classif4", lambda: nn.Linear(20, 4), "ce", "adamw", 300, 64),
    _h4("digits_logistic_sgd_b128", "h4_digits_linear",
        "softmax regression, digits, CE, plain SGD, batch 128",
        "digits", lambda: nn.Linear(64, 10), "ce", "sgd", 400, 128),
    _h4("scurve_mlp_adamw_b16", "h4_scurve_mlp",
        "MLP, S-curve position, MSE, AdamW, batch 16",
        "scurve", lambda: Squeeze(mlp(3, 1, 64)), "mse", "adamw", 400, 16),
    _h4("swissroll_mlp_l1_sgdm", "h4_swissroll_mlp",
        "MLP, Swiss-roll position, L1, SGD+momentum, batch 32",
        "swissroll", lambda: Squeeze(mlp(3, 1, 64)), "l1", "sgdm", 300, 32),
    _h4("cancer_mlp_bn_adamw", "h4_cancer_bn",
        "MLP with BatchNorm, breast cancer, BCE, AdamW, batch 32",
        "cancer", lambda: Squeeze(mlp(30, 1, 64, bn=True)), "bce", "adamw", 200, 32),
    _h4("digits_mlp_dropout_sgdm", "h4_digits_dropout",
        "MLP with dropout 0.2, digits, CE, SGD+momentum, batch 32",
        "digits", lambda: mlp_dropout(64, 10), "ce", "sgdm", 300, 32),
    _h4("digits16_cnn_gn_sgdm", "h4_cnn16_gn",
        "CNN with GroupNorm, 16x16 digits, CE, SGD+momentum, batch 64",
        "digits16", cnn16_gn, "ce", "sgdm", 200, 64),
    _h4("digits16_resnet18_sgdm_b64", "h4_resnet18",
        "torchvision ResNet-18 (random init, 1-channel stem), 16x16 digits, CE, "
        "SGD+momentum, batch 64",
        "digits16", resnet18_gray, "ce", "sgdm", 120, 64),
    _h4("gpl1_lgpl3_tf2_adamw_b32", "h4_tf_adamw",
        "causal transformer (2 blocks, d=48), GPL-1 + LGPL-3, CE, AdamW, batch 32",
        "gpl1_lgpl3", lambda: CharLM(VOCAB, BLOCK, d=48, depth=2), "lm", "adamw", 200, 32),
    _h4("gfdl12_lstm_sgdm_b16", "h4_lstm_sgdm",
        "LSTM LM, GFDL-1.2, CE, SGD+momentum, batch 16",
        "gfdl12", lambda: CharRNN(VOCAB, "lstm"), "lm", "sgdm", 200, 16),
]  # fmt: skip
HOLDOUT4: dict[str, SuiteTask] = {t.name: t for t in TASKS}

assert len(np.unique([t.family for t in TASKS])) == len(TASKS)  # one task per family


def main(argv: list[str] | None = None) -> None:
    run(HOLDOUT4, CACHE, __doc__, argv)


if __name__ == "__main__":
    main()

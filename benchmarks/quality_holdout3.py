"""A third fresh held-out set: 10 new tasks, to judge refining by short probes, and its cache.

    nice -n 10 python benchmarks/quality_holdout3.py                 # everything missing
    nice -n 10 python benchmarks/quality_holdout3.py --tasks a,b     # some of the tasks
    python benchmarks/quality_holdout3.py --status                   # what is cached

Why a third one: the probe rule of quality_probe.py was designed after its probes' numbers on
the suite and both earlier holdouts had been looked at, so none of them can judge it. These
tasks were written down and committed before anything was computed on them. Their
combinations of model, data, optimizer, batch and loss are new, and they lean on what the
issue's hidden suite names (tabular, image and text; linear, MLP, CNN, transformer;
SGD+momentum and AdamW; cross-entropy and MSE). New data: Hastie's 10-feature problem,
Gaussian quantiles, a sparse uncorrelated regression, make_regression with heavy noise, the
GFDL-1.3 and LGPL-2.1 texts.

Ground truth and sweeps: quality_truth.py's own (grid, seeds, sweep settings, scoring),
cached apart in benchmarks/results/holdout3-cache.json. The decision they serve is written
down in quality_probe.py's docstring.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import BLOCK, VOCAB, Part, _split, _standard, _text, dataset
from quality_holdout import run
from quality_holdout2 import holdout2_dataset
from quality_models import CharLM, CharRNN, Squeeze, mlp
from quality_suite import SuiteTask, _task
from quality_truth import RESULTS

CACHE = RESULTS / "holdout3-cache.json"


@functools.cache
def holdout3_dataset(name: str) -> tuple[Part, Part]:
    """(train, validation) of the third holdout's sets."""
    from sklearn import datasets as d

    if name == "hastie":  # ten Gaussian features, a spherical boundary: linear models plateau
        x, y = d.make_hastie_10_2(3000, random_state=11)
        return _split(x, (y > 0).astype(int), True)
    if name == "quantiles3":  # three nested shells
        x, y = d.make_gaussian_quantiles(n_samples=3000, n_features=6, n_classes=3,
                                         random_state=11)  # fmt: skip
        return _split(x, y, True)
    if name == "noisy_reg":  # a linear target under heavy noise: the MSE floor is high
        x, y = d.make_regression(3000, n_features=30, n_informative=8, noise=60.0, random_state=11)
        return _split(x, _standard(y), False)
    if name == "sparse_unc":
        x, y = d.make_sparse_uncorrelated(3000, n_features=12, random_state=11)
        return _split(x, _standard(y), False)
    if name in ("wine", "digits"):  # the suite's own splits
        return dataset(name)
    if name == "digits16":
        return holdout2_dataset("digits16")
    if name == "gfdl":
        return _text(["GFDL-1.3"], hf=False)
    if name == "lgpl21":
        return _text(["LGPL-2.1"], hf=False)
    raise KeyError(name)


def _h3(*args: object, **kw: object) -> SuiteTask:
    """A suite task whose data come from `holdout3_dataset`."""
    return _task(*args, parts_from=holdout3_dataset, **kw)  # type: ignore[arg-type]


def cnn16_plain(n_out: int = 10) -> nn.Sequential:
    """Two 3x3 convolutions without BatchNorm, two pools, a linear head; 16x16 inputs."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, n_out),
    )  # fmt: skip


def cnn16_bn(n_out: int = 10) -> nn.Sequential:
    """The same with BatchNorm after each convolution."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 16, n_out),
    )  # fmt: skip


TASKS: list[SuiteTask] = [
    _h3("hastie_logistic_sgdm", "h3_hastie_linear",
        "logistic (2-class softmax) regression, Hastie 10-2, CE, SGD+momentum, batch 32",
        "hastie", lambda: nn.Linear(10, 2), "ce", "sgdm", 300, 32),
    _h3("quantiles_mlp_adamw", "h3_quantiles_mlp",
        "MLP, 3-class Gaussian quantiles, CE, AdamW, batch 32",
        "quantiles3", lambda: mlp(6, 3, 64), "ce", "adamw", 400, 32),
    _h3("noisy_reg_linear_sgd", "h3_noisy_linear",
        "linear regression, heavy noise, MSE, plain SGD, batch 16",
        "noisy_reg", lambda: Squeeze(nn.Linear(30, 1)), "mse", "sgd", 300, 16),
    _h3("sparse_mlp_sgdm_b64", "h3_sparse_mlp",
        "MLP, sparse uncorrelated regression, MSE, SGD+momentum, batch 64",
        "sparse_unc", lambda: Squeeze(mlp(12, 1, 64)), "mse", "sgdm", 400, 64),
    _h3("wine_mlp_sgdm_b8", "h3_wine_mlp",
        "MLP, wine, CE, SGD+momentum, batch 8 (small data, noisy)",
        "wine", lambda: mlp(13, 3, 64), "ce", "sgdm", 300, 8),
    _h3("digits_mlp_adamw_long", "h3_digits_mlp_long",
        "MLP, digits, CE, AdamW, batch 128, 1000 steps",
        "digits", lambda: mlp(64, 10, 128), "ce", "adamw", 1000, 128),
    _h3("digits16_cnn_adamw_b32", "h3_cnn16_plain",
        "CNN without BatchNorm, 16x16 digits, CE, AdamW, batch 32",
        "digits16", cnn16_plain, "ce", "adamw", 200, 32),
    _h3("digits16_cnn_bn_sgdm_b128", "h3_cnn16_bn",
        "CNN with BatchNorm, 16x16 digits, CE, SGD+momentum, batch 128",
        "digits16", cnn16_bn, "ce", "sgdm", 150, 128),
    _h3("gfdl_tf2_sgdm_b16", "h3_tf_sgdm",
        "causal transformer (2 blocks, d=48), GFDL-1.3, CE, SGD+momentum, batch 16",
        "gfdl", lambda: CharLM(VOCAB, BLOCK, d=48, depth=2), "lm", "sgdm", 200, 16),
    _h3("lgpl21_gru_adamw", "h3_gru_adamw",
        "GRU LM, LGPL-2.1, CE, AdamW, batch 32",
        "lgpl21", lambda: CharRNN(VOCAB, "gru"), "lm", "adamw", 200, 32),
]  # fmt: skip
HOLDOUT3: dict[str, SuiteTask] = {t.name: t for t in TASKS}


def main(argv: list[str] | None = None) -> None:
    run(HOLDOUT3, CACHE, __doc__, argv)


if __name__ == "__main__":
    main()

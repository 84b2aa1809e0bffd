"""A fresh held-out set: 10 new tasks that no rule was chosen on, and their cached ground truth.

    nice -n 10 python benchmarks/quality_holdout.py                  # everything missing
    nice -n 10 python benchmarks/quality_holdout.py --tasks a,b      # some of the tasks
    python benchmarks/quality_holdout.py --status                    # what is cached

Why: the suite's test half (benchmarks/quality_suite.py) has been looked at since the
shipped rule (v1) was chosen, so it can no longer judge a revision honestly. These tasks
were written down and committed before anything was computed on them, and before any
rule's output on them was seen. Their families are new (no suite family has the same
model, data, optimizer, batch and loss combination); they cover what the issue's hidden
suite covers (tabular, image and text; linear, MLP, CNN, ResNet, transformer; SGD+momentum
and AdamW; cross-entropy and MSE), with five small tabular / linear tasks, the suite's
weak spot (v1 overshot there by 1 to 2.3 decades on the test half).

The ground truth and the sweeps are quality_truth.py's own (the same grid, seeds, sweep
settings and scoring), cached apart in benchmarks/results/holdout-cache.json.

Pre-registered decision (written before any holdout scoring, see quality_holdout_score.py):
the candidate rule v2 (benchmarks/results/rule-v2.json, searched on all 39 suite tasks by
quality_tune_v2.py and committed before the holdout was scored) replaces v1 as lrfind's
default only if, on these 10 tasks (30 sweeps), v2's mean interpolated regret is lower than
v1's AND v2 has no more suggestions more than 1 decade from the grid best than v1 has.
Otherwise v1 stays. (A sweep with no suggestion scores the regret of the grid's lowest LR in
the mean, as in the tuning objective, and counts as one more than 1 decade off.)
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_data import BLOCK, SEQ_VOCAB, VOCAB, Part, _split, _standard, _text, dataset
from quality_models import CharLM, SeqClassifier, Squeeze, cnn, mlp, resnet
from quality_suite import SuiteTask, _task
from quality_truth import RESULTS, Cache, do_sweeps, ground_truth

CACHE = RESULTS / "holdout-cache.json"


@functools.cache
def holdout_dataset(name: str) -> tuple[Part, Part]:
    """(train, validation): the sets quality_data.py lacks, else quality_data's own."""
    from sklearn import datasets as d

    if name == "friedman2":
        x, y = d.make_friedman2(2000, noise=10.0, random_state=1)
        return _split(x, _standard(y), False)
    if name == "circles":
        x, y = d.make_circles(1500, noise=0.1, factor=0.5, random_state=1)
        return _split(x, y, True)
    if name == "lgpl":
        return _text(["LGPL-2.1", "GFDL-1.3"], hf=False)
    return dataset(name)


def _ho(*args: object, **kw: object) -> SuiteTask:
    """A suite task whose data come from `holdout_dataset`."""
    return _task(*args, parts_from=holdout_dataset, **kw)  # type: ignore[arg-type]


TASKS: list[SuiteTask] = [
    # small tabular / linear (the weak spot)
    _ho(
        "iris_softmax_sgdm",
        "ho_iris_linear",
        "softmax regression, iris, CE, SGD+momentum, batch 8",
        "iris",
        lambda: nn.Linear(4, 3),
        "ce",
        "sgdm",
        300,
        8,
    ),
    _ho(
        "digits_logistic_adamw",
        "ho_digits_linear",
        "multinomial logistic regression, digits (64 features), CE, AdamW, batch 32",
        "digits",
        lambda: nn.Linear(64, 10),
        "ce",
        "adamw",
        300,
        32,
    ),
    _ho(
        "diabetes_linreg_sgdm",
        "ho_diabetes_linear",
        "linear regression, diabetes, MSE, SGD+momentum, batch 16",
        "diabetes",
        lambda: Squeeze(nn.Linear(10, 1)),
        "mse",
        "sgdm",
        300,
        16,
    ),
    _ho(
        "wine_mlp_adamw",
        "ho_wine_mlp",
        "MLP (1 hidden layer of 32), wine, CE, AdamW, batch 16",
        "wine",
        lambda: mlp(13, 3, 32, depth=1),
        "ce",
        "adamw",
        300,
        16,
    ),
    _ho(
        "friedman2_mlp_adamw",
        "ho_friedman2_mlp",
        "MLP, Friedman #2, MSE, AdamW, batch 32",
        "friedman2",
        lambda: Squeeze(mlp(4, 1, 64)),
        "mse",
        "adamw",
        300,
        32,
    ),
    # tabular MLP on a new generated set
    _ho(
        "circles_mlp_sgdm",
        "ho_circles_mlp",
        "MLP, two circles, CE, SGD+momentum, batch 32",
        "circles",
        lambda: mlp(2, 2, 32),
        "ce",
        "sgdm",
        400,
        32,
    ),
    # images (digits as 8x8)
    _ho(
        "digits_cnn_nobn_adamw_b128",
        "ho_cnn",
        "CNN without BatchNorm, CE, AdamW, batch 128",
        "digits_images",
        lambda: cnn(10, bn=False),
        "ce",
        "adamw",
        150,
        128,
    ),
    _ho(
        "digits_resnet8_sgdm_b32",
        "ho_resnet",
        "ResNet (2 blocks, width 8), CE, SGD+momentum (no weight decay), batch 32",
        "digits_images",
        lambda: resnet(10, width=8),
        "ce",
        "sgdm",
        200,
        32,
    ),
    # text
    _ho(
        "lgpl_tf1_adamw_b32",
        "ho_char_transformer",
        "causal transformer (1 block, d=48), LGPL-2.1 + GFDL-1.3, CE, AdamW, batch 32",
        "lgpl",
        lambda: CharLM(VOCAB, BLOCK, d=48, depth=1),
        "lm",
        "adamw",
        150,
        32,
    ),
    _ho(
        "seqcls_tf_sgdm",
        "ho_seqcls_sgd",
        "transformer-encoder classifier, dict batches, CE, SGD+momentum, batch 32",
        "seqcls",
        lambda: SeqClassifier(SEQ_VOCAB, 3, "transformer"),
        None,
        "sgdm",
        200,
        32,
    ),
]
HOLDOUT: dict[str, SuiteTask] = {t.name: t for t in TASKS}


def run(tasks: dict[str, SuiteTask], cache_path: Path, doc: str, argv: list[str] | None) -> None:
    """The command line of a holdout: compute what `cache_path` lacks for `tasks`, or --status."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(tasks), help="comma-separated task names")
    parser.add_argument("--status", action="store_true", help="print what is cached and exit")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()]
    unknown = [n for n in names if n not in tasks]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; the holdout: {', '.join(tasks)}")
    cache = Cache(cache_path)
    if args.status:
        for name in names:
            truth = ground_truth(tasks[name], cache, compute=False)
            section = cache.section(tasks[name])
            print(f"{name:28s} runs {len(section['train']):3d}  sweeps {len(section['sweeps'])}/3  "
                  f"{'pending' if truth is None else 'done'}")  # fmt: skip
        return
    start = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        do_sweeps(tasks[name], cache)
        truth = ground_truth(tasks[name], cache)
        assert truth is not None
        # Only the time is printed, not the answer: the log is read before scoring.
        print(
            f"{name}: sweeps + ground truth in {time.perf_counter() - t0:.0f} s; "
            f"{(time.perf_counter() - start) / 60:.1f} min so far",
            file=sys.stderr,
            flush=True,
        )
    timing = cache.data.setdefault("_wall_s", {})
    timing[",".join(names)] = time.perf_counter() - start
    cache.save()


def main(argv: list[str] | None = None) -> None:
    run(HOLDOUT, CACHE, __doc__, argv)


if __name__ == "__main__":
    main()

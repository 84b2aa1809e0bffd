"""The data of the generalisation suite: scikit-learn's bundled sets, generated sets, Debian's licences.

Nothing is downloaded. Every set has a fixed train / validation split (the
same for every run) and is built once per process. `Batches` is the loader:
shuffled mini-batches of in-memory tensors, a new permutation per pass drawn
from a generator seeded by the run's seed, yielded as `(inputs, targets)`
tuples or as dicts (Hugging Face style), the last partial batch dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

LICENCES = Path("/usr/share/common-licenses")
BLOCK = 32  # characters per language-model window
VOCAB = 96  # printable ASCII and newline; anything else maps to one "unknown" id
SEQ_VOCAB, SEQ_LEN = 40, 20

Part = tuple[torch.Tensor, ...] | dict[str, torch.Tensor]  # the tensors of one split


class Batches:
    """Mini-batches of `part` (a tuple or a dict of equal-length tensors), reshuffled every pass."""

    def __init__(self, part: Part, batch_size: int, seed: int) -> None:
        self.part = part
        self.batch_size = batch_size
        first = next(iter(part.values())) if isinstance(part, dict) else part[0]
        self.n = len(first)
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.n // self.batch_size

    def __iter__(self) -> Iterator[Any]:
        order = torch.randperm(self.n, generator=self.generator)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            if isinstance(self.part, dict):
                yield {k: v[idx] for k, v in self.part.items()}
            else:
                yield tuple(t[idx] for t in self.part)


def chunks(part: Part, size: int = 2048) -> Iterator[tuple[int, Any]]:
    """(rows, batch) pieces of a whole split, in order, for evaluation."""
    first = next(iter(part.values())) if isinstance(part, dict) else part[0]
    for s in range(0, len(first), size):
        if isinstance(part, dict):
            piece: Any = {k: v[s : s + size] for k, v in part.items()}
        else:
            piece = tuple(t[s : s + size] for t in part)
        yield min(size, len(first) - s), piece


def _split(x: np.ndarray, y: np.ndarray, classify: bool) -> tuple[Part, Part]:
    """A fixed 75 / 25 split; inputs standardised on the training part."""
    order = np.random.default_rng(0).permutation(len(x))
    cut = len(x) * 3 // 4
    tr, va = order[:cut], order[cut:]
    mean, std = x[tr].mean(0), x[tr].std(0) + 1e-8
    x = ((x - mean) / std).astype(np.float32)
    yt = torch.tensor(y, dtype=torch.long) if classify else torch.tensor(y, dtype=torch.float32)
    xt = torch.tensor(x)
    return (xt[tr], yt[tr]), (xt[va], yt[va])


def _standard(y: np.ndarray) -> np.ndarray:
    return ((y - y.mean()) / y.std()).astype(np.float32)


@functools.cache
def dataset(name: str) -> tuple[Part, Part]:
    """(train, validation) of the named set."""
    from sklearn import datasets as d

    if name in ("digits", "digits_ae", "digits_images", "digits_lo", "digits_hi"):
        data = d.load_digits()
        train, val = _split(data.data, data.target, True)
        if name == "digits":
            return train, val
        if name == "digits_ae":  # the target is the input itself
            return (train[0], train[0]), (val[0], val[0])
        if name == "digits_images":
            return _images(train), _images(val)
        keep = (lambda y: y < 5) if name == "digits_lo" else (lambda y: y >= 5)
        shift = 0 if name == "digits_lo" else 5
        return _images(_classes(train, keep, shift)), _images(_classes(val, keep, shift))
    if name == "cancer":
        data = d.load_breast_cancer()
        return _split(data.data, data.target.astype(np.float32), False)
    if name == "wine":
        data = d.load_wine()
        return _split(data.data, data.target, True)
    if name == "iris":
        data = d.load_iris()
        return _split(data.data, data.target, True)
    if name == "diabetes":
        data = d.load_diabetes()
        return _split(data.data, _standard(data.target), False)
    if name == "moons":
        x, y = d.make_moons(2000, noise=0.15, random_state=0)
        return _split(x, y, True)
    if name == "separable":  # linearly separable: the logistic loss goes to 0
        x, y = d.make_classification(2000, n_features=10, n_informative=5, n_redundant=0,
                                     class_sep=3.0, flip_y=0.0, random_state=0)  # fmt: skip
        return _split(x, y.astype(np.float32), False)
    if name == "synth5":  # large: for batches of 256 to 1024
        x, y = d.make_classification(24000, n_features=20, n_informative=12, n_classes=5,
                                     class_sep=1.0, flip_y=0.01, random_state=0)  # fmt: skip
        return _split(x, y, True)
    if name == "friedman":
        x, y = d.make_friedman1(4000, noise=0.5, random_state=0)
        return _split(x, _standard(y), False)
    if name == "linreg":  # a noise floor far below the start: the MSE goes near 0
        x, y = d.make_regression(2000, n_features=20, n_informative=10, noise=5.0, random_state=0)
        return _split(x, _standard(y), False)
    if name == "hetero":
        return _hetero()
    if name in ("gpl3", "gpl3_hf"):
        return _text(["GPL-3"], hf=name.endswith("_hf"))
    if name == "apache_hf":
        return _text(["Apache-2.0", "MPL-2.0"], hf=True)
    if name == "seqcls":
        return _seqcls()
    raise KeyError(name)


def _images(part: Part) -> Part:
    x, y = part  # type: ignore[misc]
    return x.view(-1, 1, 8, 8), y


def _classes(part: Part, keep: Any, shift: int) -> Part:
    x, y = part  # type: ignore[misc]
    mask = keep(y)
    return x[mask], y[mask] - shift


def _hetero() -> tuple[Part, Part]:
    """Regression with a noise level that depends on the input: the Gaussian NLL goes below 0."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 4))
    mean = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1]
    sd = 0.02 + 0.2 / (1 + np.exp(-2 * x[:, 2]))
    y = mean + sd * rng.normal(size=3000)
    return _split(x, y.astype(np.float32), False)


def _text(files: list[str], hf: bool) -> tuple[Part, Part]:
    """Next-character prediction: BLOCK-character windows (stride BLOCK / 2), the last 10% held out."""
    paths = [LICENCES / f for f in files]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"the suite's text is missing: {', '.join(missing)} (Debian ships it)"
        )
    raw = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in paths)
    ids = torch.tensor([0 if c == "\n" else min(max(ord(c) - 31, 0), VOCAB - 1) for c in raw])
    cut = len(ids) * 9 // 10

    def windows(part: torch.Tensor) -> Part:
        starts = torch.arange(0, len(part) - BLOCK - 1, BLOCK // 2)
        x = torch.stack([part[s : s + BLOCK] for s in starts])
        y = torch.stack([part[s + 1 : s + BLOCK + 1] for s in starts])
        return {"input_ids": x, "labels": y} if hf else (x, y)

    return windows(ids[:cut]), windows(ids[cut:])


def _seqcls() -> tuple[Part, Part]:
    """Token sequences whose class is the marker token (0, 1 or 2) that occurs most (3 vs <= 2)."""
    rng = np.random.default_rng(0)
    n = 6000
    ids = rng.integers(3, SEQ_VOCAB, size=(n, SEQ_LEN))
    labels = rng.integers(0, 3, size=n)
    for i in range(n):
        counts = [3 if k == labels[i] else int(rng.integers(0, 3)) for k in range(3)]
        markers = [k for k in range(3) for _ in range(counts[k])]
        where = rng.choice(SEQ_LEN, size=len(markers), replace=False)
        ids[i, where] = markers
    flip = rng.random(n) < 0.03  # a little label noise: the loss does not reach 0
    labels[flip] = rng.integers(0, 3, size=int(flip.sum()))
    x, y = torch.tensor(ids), torch.tensor(labels)
    cut = n * 3 // 4
    return ({"input_ids": x[:cut], "labels": y[:cut]}, {"input_ids": x[cut:], "labels": y[cut:]})

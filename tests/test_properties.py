"""Property tests: smoothing, suggestions, the config loader and --arg never crash."""

from __future__ import annotations

import math
import string
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lrfind.config.files import parse_config
from lrfind.config.resolve import parse_build_args, resolve
from lrfind.core.curve import smooth
from lrfind.core.suggest import METHODS
from lrfind.errors import LrfindError

ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)  # NaN, inf, huge, negative, tiny
LOSSES = st.lists(ANY_FLOAT, max_size=500)


@st.composite
def sweeps(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """A real LR schedule (rising, positive) with arbitrary losses of the same length."""
    losses = draw(LOSSES)
    start = draw(st.floats(1e-9, 1e-2))
    end = start * draw(st.floats(1.5, 1e9))
    return list(np.geomspace(start, end, len(losses))) if losses else [], losses


@settings(max_examples=300, deadline=None)
@given(LOSSES, st.floats(0, 1, exclude_max=True))
def test_smoothing_never_raises(losses: list[float], weight: float) -> None:
    out = smooth(losses, weight)
    assert len(out) == len(losses)
    for raw, s in zip(losses, out, strict=True):
        assert math.isnan(s) if not math.isfinite(raw) else not math.isnan(s)


@settings(max_examples=300, deadline=None)
@given(sweeps())
def test_every_suggestion_is_a_swept_lr_or_none_with_a_reason(sweep: tuple) -> None:
    lrs, losses = sweep
    for name, method in METHODS.items():
        s = method(lrs, losses)
        assert s.method == name
        if s.lr is None:
            assert s.reason and s.index is None
            continue
        assert s.reason is None and math.isfinite(s.lr)
        if name == "min_div_10":
            assert s.lr >= lrs[0]  # never below the start
            assert s.lr == lrs[0] or any(math.isclose(s.lr, lr / 10) for lr in lrs)
        else:
            assert s.lr in lrs
        assert s.index is not None and 0 <= s.index < len(lrs)


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_FLOAT, max_size=60), LOSSES)
def test_suggestions_survive_any_lrs_too(lrs: list[float], losses: list[float]) -> None:
    for method in METHODS.values():
        s = method(lrs, losses)
        assert s.lr is None or math.isfinite(s.lr)


TOML_SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), ANY_FLOAT, st.text(max_size=20)
)
TOML_VALUES = st.recursive(
    TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEYS = st.sampled_from(
    [
        "spec",
        "sweep",
        "optimizer",
        "build",
        "output",
        "extra",
        "start_lr",
        "end_lr",
        "steps",
        "mode",
        "smoothing",
        "diverge_threshold",
        "seed",
        "device",
        "method",
        "name",
        "lr",
        "out_dir",
        "plot",
        "momentum",
    ]
) | st.text(max_size=8)
DOCS = st.dictionaries(
    KEYS, TOML_VALUES | st.dictionaries(KEYS, TOML_VALUES, max_size=5), max_size=6
)


@settings(max_examples=400, deadline=None)
@given(DOCS)
def test_config_documents_are_accepted_or_cleanly_rejected(doc: dict[str, Any]) -> None:
    try:
        parse_config(doc, "fuzz.toml")
        cfg = resolve("m.py:build", {}, None, None)  # defaults always resolve
    except LrfindError as e:
        assert str(e) and e.exit_code == 2
    else:
        assert cfg.sweep.steps == 100


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_config_files_of_any_text(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        resolve("m.py:build", {}, None, str(path))
    except LrfindError as e:
        assert str(e).count("\n") < 20 and e.exit_code == 2


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(alphabet=string.printable, max_size=30), max_size=5))
def test_build_args_parse_or_fail_cleanly(items: list[str]) -> None:
    try:
        parsed = parse_build_args(items)
    except LrfindError as e:
        assert "--arg" in str(e) and e.exit_code == 2
    else:
        assert all(k.isidentifier() for k in parsed)

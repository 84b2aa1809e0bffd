"""The shipped rule (lrfind.core.robust*) gives the prototype's numbers (benchmarks/rules.py).

The prototype is what was chosen and scored: v2 (benchmarks/results/rule-v2.json, lrfind's
default) on the 39 suite tasks and judged on the fresh holdout, and v1 (the previous
default, lrfind.core.robust.V1) before it. The package must be those rules, not
look-alikes. Replayed on every recorded sweep of the suite's cache (117) and the two
holdouts' caches (30 each).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from lrfind.core.robust import V1, RobustRule, replay
from lrfind.core.robust_suggest import robust_answer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
SUITE = BENCH / "results" / "suite-cache.json"
HOLDOUT = BENCH / "results" / "holdout-cache.json"
HOLDOUT2 = BENCH / "results" / "holdout2-cache.json"
V2 = BENCH / "results" / "rule-v2.json"


def _sweeps(cache: Path) -> list[tuple[str, list[float], list[float]]]:
    data = json.loads(cache.read_text())
    out = []
    for task, section in sorted(data.items()):
        if isinstance(section, dict) and isinstance(section.get("sweeps"), dict):
            for seed, sw in sorted(section["sweeps"].items()):
                out.append((f"{task}/{seed}", sw["lrs"], sw["losses"]))
    return out


@pytest.fixture(scope="module")
def prototype():
    sys.path.insert(0, str(BENCH))
    try:
        import rules
    finally:
        sys.path.remove(str(BENCH))
    return rules


def _differences(prototype, want_rule, rule: RobustRule, sweeps) -> list[tuple]:
    differ = []
    for name, lrs, raw in sweeps:
        want = prototype.suggest(lrs, raw, want_rule)
        n, stop, _ = replay(raw, rule)
        got = robust_answer(lrs[:n], raw[:n], stop, rule)
        assert n == want.points and stop == want.stop, name
        same = (
            got.lr == want.lr
            and got.confidence == want.confidence
            and got.reasons == want.reasons
            and got.falling_from == want.falling_from
            and got.falling_to == want.falling_to
        )
        if not same:
            differ.append((name, got.lr, want.lr, got.confidence, want.confidence))
    return differ


def test_the_default_is_the_frozen_v2(prototype) -> None:
    frozen = json.loads(V2.read_text())["rule"]
    default = RobustRule()
    # Every parameter lrfind has is v2's frozen value (the prototype's others are unused:
    # "descent_level" belongs to a method v2 does not use, and lrfind's noise is "both").
    assert {f.name: getattr(default, f.name) for f in fields(RobustRule)} == {
        f.name: frozen[f.name] for f in fields(RobustRule)
    }
    assert frozen["noise"] == "both" and frozen["method"] == "bottom"
    # V1 is the prototype's v1 (its Rule() defaults), parameter by parameter; its DEFAULT is v2.
    assert prototype.DEFAULT == prototype.V2 == prototype.Rule(**frozen)
    assert {f.name: getattr(V1, f.name) for f in fields(RobustRule)} == {
        f.name: getattr(prototype.V1, f.name) for f in fields(RobustRule)
    }


@pytest.mark.parametrize(
    "cache, count",
    [(SUITE, 117), (HOLDOUT, 30), (HOLDOUT2, 30)],
    ids=["suite", "holdout", "holdout2"],
)
def test_every_cached_sweep_gets_the_prototypes_v2_answer(prototype, cache, count) -> None:
    sweeps = _sweeps(cache)
    assert len(sweeps) == count  # suite: 39 tasks x 3 sweeps; each holdout: 10 x 3
    want = prototype.Rule(**json.loads(V2.read_text())["rule"])
    assert _differences(prototype, want, RobustRule(), sweeps) == []


def test_v1_is_still_the_prototypes_v1(prototype) -> None:
    sweeps = _sweeps(SUITE) + _sweeps(HOLDOUT)
    assert _differences(prototype, prototype.V1, V1, sweeps) == []


def test_the_replayed_curve_is_the_prototypes_robust_curve(prototype) -> None:
    want = prototype.Rule(**json.loads(V2.read_text())["rule"])
    _, lrs, raw = _sweeps(SUITE)[0]
    n, stop, _ = replay(raw, RobustRule())
    got = robust_answer(lrs[:n], raw[:n], stop)
    finite = [v for v in raw[:n] if math.isfinite(v)]
    assert [v for v in got.curve if math.isfinite(v)] == prototype.robust_curve(finite, want)

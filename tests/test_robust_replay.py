"""The shipped rule (lrfind.core.robust*) gives the prototype's numbers (benchmarks/rules.py).

The prototype is what was chosen on the tuning half and scored on both halves; the package
must be that rule, not a look-alike. Replayed on recorded sweeps from the suite's cache.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from lrfind.core.robust import RobustRule, replay
from lrfind.core.robust_suggest import robust_answer

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
CACHE = BENCH / "results" / "suite-cache.json"


def _sweeps() -> list[tuple[str, list[float], list[float]]]:
    data = json.loads(CACHE.read_text())
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


def test_every_cached_sweep_gets_the_prototypes_answer(prototype) -> None:
    sweeps = _sweeps()
    assert len(sweeps) >= 117  # 39 tasks x 3 sweeps
    rule = RobustRule()
    assert {k: v for k, v in rule.to_dict().items() if k != "name"}.items() <= {
        **prototype.DEFAULT.__dict__
    }.items()
    differ = []
    for name, lrs, raw in sweeps:
        want = prototype.suggest(lrs, raw, prototype.DEFAULT)
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
    assert differ == []


def test_the_replayed_curve_is_the_prototypes_robust_curve(prototype) -> None:
    _, lrs, raw = _sweeps()[0]
    n, stop, _ = replay(raw, RobustRule())
    got = robust_answer(lrs[:n], raw[:n], stop)
    finite = [v for v in raw[:n] if math.isfinite(v)]
    assert [v for v in got.curve if math.isfinite(v)] == prototype.robust_curve(
        finite, prototype.DEFAULT
    )

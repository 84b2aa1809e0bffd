"""Properties of the robust stop rule on synthetic curves (a quick self-check, no suite data).

    python benchmarks/quality_rule_checks.py      # prints each check and exits 1 if one fails

Run for the shipped default (v2, `rules.DEFAULT`) and for v1, the previous one.

- one lucky or unlucky batch (or two in a row) never stops a sweep;
- a NaN or an infinite loss stops it at once;
- a real explosion stops it within 3 steps, after a loss that went down to 0.001 and after a
  loss that went below zero;
- the stop point does not move when the losses are shifted or scaled (a x loss + b, a > 0):
  the rule has no notion of where zero is.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules import DEFAULT, V1, Rule, stop_point


def curve(n_plateau: int, start: float, bottom: float, explode_at: int, noise: float,
          seed: int = 0) -> list[float]:  # fmt: skip
    """A plateau at `start`, a log-linear fall to `bottom`, then x3 per step from `explode_at`."""
    rng = random.Random(seed)
    out = []
    for i in range(100):
        if i < n_plateau:
            level = start
        elif i < explode_at:
            t = (i - n_plateau) / (explode_at - n_plateau)
            level = start + (bottom - start) * t
        else:
            level = bottom + (start - bottom) * 0.5 * 3 ** (i - explode_at)
        out.append(level + noise * rng.gauss(0, 1))
    return out


def main() -> int:
    failures = 0
    for name, rule in (("v2, the shipped default", DEFAULT), ("v1, the previous default", V1)):
        print(f"== {name}")
        failures += checks(rule)
    return 1 if failures else 0


def checks(rule: Rule) -> int:
    failures = 0

    def check(name: str, ok: bool, detail: str = "") -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} {detail}")

    base = curve(40, 2.3, 0.3, 85, 0.02)
    n0, why0, _ = stop_point(base, rule)
    check(
        "explosion after a fall stops within 3 steps",
        why0 == "diverged" and n0 - 1 <= 85 + 3,
        f"(stop at {n0 - 1}, explosion at 85)",
    )
    for at in (20, 50, 70):
        for k in (1, 2):
            spiked = list(base)
            for j in range(k):
                spiked[at + j] = 1000.0
            n, why, _ = stop_point(spiked, rule)
            check(f"{k} spike(s) at step {at} do not stop it", n == n0, f"(stop at {n - 1})")
            dipped = list(base)
            for j in range(k):
                dipped[at + j] = -1000.0
            n, why, _ = stop_point(dipped, rule)
            check(f"{k} lucky batch(es) at step {at} do not stop it", n == n0, f"(stop at {n - 1})")
    for bad in (math.nan, math.inf):
        broken = list(base)
        broken[30] = bad
        n, why, _ = stop_point(broken, rule)
        check(f"a {bad} loss stops at once", (n, why) == (31, "nan"), f"(stop at {n - 1}: {why})")
    near_zero = [max(v, 1e-6) for v in curve(30, 0.7, 0.001, 88, 0.0)]
    rng = random.Random(1)
    near_zero = [
        v * math.exp(0.8 * rng.gauss(0, 1)) for v in near_zero
    ]  # noise grows with the loss
    n, why, _ = stop_point(near_zero, rule)
    check(
        "a loss down to 0.001 (lucky batches near 0) stops only at its explosion",
        why == "diverged" and 88 <= n - 1 <= 91,
        f"(stop at {n - 1}, explosion at 88)",
    )
    negative = curve(30, 0.5, -2.0, 80, 0.05)
    n, why, _ = stop_point(negative, rule)
    check(
        "a loss that falls below 0 stops only at its explosion",
        why == "diverged" and 80 <= n - 1 <= 83,
        f"(stop at {n - 1}, explosion at 80)",
    )
    for a, b in ((1.0, -100.0), (1.0, 100.0), (0.001, 0.0), (1000.0, -5.0)):
        moved = [a * v + b for v in base]
        n, why, _ = stop_point(moved, rule)
        check(f"{a:g} x loss + {b:g} stops at the same point", n == n0, f"(stop at {n - 1})")
    return failures


if __name__ == "__main__":
    sys.exit(main())

"""How often the robust stop rule fires on pure noise: the calibration of its k, no suite data.

    python benchmarks/quality_null.py        # about a minute; prints a markdown table

A plateau of 100 or 1000 losses with no trend at all, drawn from four kinds of noise:
Gaussian; lognormal (skewed, a heavy right tail, like small-batch cross-entropy); chi-square
with one degree of freedom (extreme skew, like batches of one); AR(1) with coefficient 0.7
(successive losses correlated, as under momentum). Any stop on such a curve is a false stop.
The rule's default k is the smallest of the k tried whose false-stop rate on the 1000-step
Gaussian, lognormal and AR(1) plateaus is at most 2%.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rules import DEFAULT, stop_point

KINDS = ("gaussian", "lognormal", "chi2_1", "ar1_0.7")
TRIALS = 300


def plateau(kind: str, n: int, rng: random.Random) -> list[float]:
    if kind == "gaussian":
        return [1 + 0.1 * rng.gauss(0, 1) for _ in range(n)]
    if kind == "lognormal":
        return [math.exp(rng.gauss(0, 0.5)) for _ in range(n)]
    if kind == "chi2_1":
        return [rng.gauss(0, 1) ** 2 for _ in range(n)]
    x, out = 0.0, []
    for _ in range(n):
        x = 0.7 * x + rng.gauss(0, 0.1)
        out.append(1 + x)
    return out


def false_stops(k: float, kind: str, n: int, window: int = DEFAULT.window) -> float:
    rng = random.Random(f"{kind}-{n}")  # the same plateaus for every k
    rule = DEFAULT.__class__(**{**DEFAULT.__dict__, "k": k, "window": window, "fraction": 0.0})
    trips = sum(stop_point(plateau(kind, n, rng), rule)[1] == "diverged" for _ in range(TRIALS))
    return trips / TRIALS


def main() -> None:
    ks = (8.0, 10.0, 12.0, 16.0)
    print("| steps | noise | " + " | ".join(f"k = {k:g}" for k in ks) + " |")
    print("| --- | --- |" + " --- |" * len(ks))
    for n in (100, 1000):
        for kind in KINDS:
            cells = [f"{100 * false_stops(k, kind, n):.1f}%" for k in ks]
            print(f"| {n} | {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

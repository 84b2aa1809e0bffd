"""How often the robust stop rule fires on pure noise: the calibration of its k, no suite data.

    python benchmarks/quality_null.py        # about a minute; prints a markdown table
    python benchmarks/quality_null.py --snr  # seconds: how deep pure noise "descends"

A plateau of 100 or 1000 losses with no trend at all, drawn from four kinds of noise:
Gaussian; lognormal (skewed, a heavy right tail, like small-batch cross-entropy); chi-square
with one degree of freedom (extreme skew, like batches of one); AR(1) with coefficient 0.7
(successive losses correlated, as under momentum). Any stop on such a curve is a false stop.
The rule's default k is the smallest of the k tried whose false-stop rate on the 1000-step
Gaussian, lognormal and AR(1) plateaus is at most 2%.

`--snr` replays lrfind's shipped rule on 100-point plateaus (LR 1e-7 to 10) and gives the
depth of the "descent" it finds in noise scales (its `snr`, which sets "noisy curve" under
`lo_snr`): how far a curve with no signal at all dips by chance.
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


def noise_descents(kind: str) -> tuple[int, list[float]]:
    """(suggestions made, sorted snr of each) on TRIALS 100-point plateaus of `kind`."""
    from lrfind.core.robust import RobustRule, replay
    from lrfind.core.robust_suggest import robust_answer

    rng, rule = random.Random(f"snr-{kind}"), RobustRule()
    lrs = [1e-7 * 1e8 ** (i / 99) for i in range(100)]
    made, snrs = 0, []
    for _ in range(TRIALS):
        raw = plateau(kind, 100, rng)
        n, stop, _ = replay(raw, rule)
        answer = robust_answer(lrs[:n], raw[:n], stop, rule)
        made += answer.lr is not None
        snrs.append(answer.detail.get("snr", 0.0))
    return made, sorted(snrs)


def snr_table() -> None:
    from lrfind.core.robust import RobustRule

    print(f"Shipped rule on {TRIALS} plateaus each (lo_snr = {RobustRule().lo_snr:g})")
    print("| noise | suggestions | snr: median | 90% | 98% | max |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind in KINDS:
        made, s = noise_descents(kind)
        q = [s[int(p * (len(s) - 1))] for p in (0.5, 0.9, 0.98)]
        cells = " | ".join(f"{v:.2f}" for v in (*q, s[-1]))
        print(f"| {kind} | {made} / {TRIALS} | {cells} |")


def main() -> None:
    if "--snr" in sys.argv[1:]:
        snr_table()
        return
    ks = (8.0, 10.0, 12.0, 16.0)
    print("| steps | noise | " + " | ".join(f"k = {k:g}" for k in ks) + " |")
    print("| --- | --- |" + " --- |" * len(ks))
    for n in (100, 1000):
        for kind in KINDS:
            cells = [f"{100 * false_stops(k, kind, n):.1f}%" for k in ks]
            print(f"| {n} | {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

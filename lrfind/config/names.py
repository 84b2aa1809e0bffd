"""Unknown setting names, answered with the name lrfind uses.

Users come from the peers with their names in their fingers: torch-lr-finder's
range_test and ignite's FastaiLRFinder (num_iter, step_mode, smooth_f,
diverge_th, accumulation_steps), fastai's lr_find (num_it), Lightning's
Tuner.lr_find (min_lr, max_lr, num_training, early_stop_threshold). Telling them
the one lrfind takes beats a list of twenty names to search; a typo gets the
closest known name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

PEER_NAMES: dict[str, str] = {
    "num_iter": "steps",
    "num_it": "steps",
    "num_training": "steps",
    "min_lr": "start_lr",
    "max_lr": "end_lr",
    "step_mode": "mode",
    "smooth_f": "smoothing",
    "diverge_th": "diverge_threshold",
    "early_stop_threshold": "diverge_threshold",
    "accumulation_steps": "accumulate",
    "gradient_accumulation_steps": "accumulate",
    "max_grad_norm": "clip_grad",
    "gradient_clip_val": "clip_grad",
}


def unknown_names(unknown: Iterable[str], known: Iterable[str]) -> list[str]:
    """One phrase per unknown name: "'num_iter' (lrfind calls it steps)", "'stepz' (did you mean
    steps?)".

    A name with neither a peer's meaning nor a close match is given bare; the
    caller lists what is allowed after it.
    """
    allowed = sorted(known)
    out = []
    for name in unknown:
        peer = PEER_NAMES.get(name)
        if name == "lr":  # the one every range test owns: there is nothing to set
            out.append("'lr' (the sweep sets the LR: give its range as start_lr and end_lr)")
        elif peer in allowed:
            out.append(f"'{name}' (lrfind calls it {peer})")
        elif close := difflib.get_close_matches(name, allowed, n=1, cutoff=0.75):
            out.append(f"'{name}' (did you mean {close[0]}?)")
        else:
            out.append(f"'{name}'")
    return out

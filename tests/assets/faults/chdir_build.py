"""(g) paths: build() changes the working directory (to find its data files)."""

import os
from pathlib import Path

from faultkit import build as base_build


def build() -> tuple:
    elsewhere = Path(os.environ.get("LRFIND_FAULT_CHDIR", Path(__file__).parent))
    elsewhere.mkdir(parents=True, exist_ok=True)
    os.chdir(elsewhere)
    return base_build()

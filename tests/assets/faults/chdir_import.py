"""(g) paths: the module changes the working directory when imported (a script that
does os.chdir(os.path.dirname(__file__)) to find its data), so a relative --out-dir
given before the import no longer points where the user meant."""

import os
from pathlib import Path

from faultkit import build

elsewhere = Path(os.environ.get("LRFIND_FAULT_CHDIR", Path(__file__).parent))
elsewhere.mkdir(parents=True, exist_ok=True)
os.chdir(elsewhere)

__all__ = ["build"]

"""Importing matplotlib for lrfind's bare Figures, whatever MPLBACKEND says.

lrfind draws on `matplotlib.figure.Figure` objects and never uses pyplot, so
the backend is irrelevant to it; but matplotlib validates $MPLBACKEND when it
is imported, and a value it does not know (a typo, a backend of another
machine) fails the import. Then lrfind imports it once more without it.
"""

from __future__ import annotations

import os
import sys


def load_matplotlib() -> None:
    """Import matplotlib (a no-op once it is), ignoring an MPLBACKEND it rejects."""
    if "matplotlib" in sys.modules:
        return
    try:
        import matplotlib
    except ValueError:
        backend = os.environ.pop("MPLBACKEND", None)
        if backend is None:
            raise
        for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
            del sys.modules[name]
        try:
            import matplotlib  # noqa: F401
        finally:
            os.environ["MPLBACKEND"] = backend

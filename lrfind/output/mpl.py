"""Importing matplotlib for lrfind's bare Figures, whatever MPLBACKEND says.

lrfind draws on `matplotlib.figure.Figure` objects and never uses pyplot, so
the backend is irrelevant to it; but matplotlib validates $MPLBACKEND when it
is imported, and a value it does not know (a typo, a backend of another
machine) fails the import. Then lrfind imports it once more without it.

While lrfind draws and writes its PNGs (`quiet_float_errors`), numpy's floating-point
warnings raised inside matplotlib are silenced: an axis out at 1e308 (`schedule --lr
1e308`, a hand-edited report) overflows its tick and transform arithmetic, yet the PNG
comes out right, and two lines of a library's source on stderr would only alarm. Only
there: a notebook's own plots keep their warnings.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator

_NUMPY_FLOAT_ERRORS = r"(overflow|underflow|invalid value|divide by zero) encountered"


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


@contextlib.contextmanager
def quiet_float_errors() -> Iterator[None]:
    """numpy's overflow / invalid-value warnings from matplotlib's own modules ignored."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", _NUMPY_FLOAT_ERRORS, RuntimeWarning, r"matplotlib\.")
        yield

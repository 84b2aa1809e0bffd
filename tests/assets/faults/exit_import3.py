"""(b) the user's code ends lrfind: the module calls sys.exit(3) when imported."""

import sys

from faultkit import build

sys.exit(3)

__all__ = ["build"]

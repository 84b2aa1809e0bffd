"""(b) the user's code ends lrfind: the module calls sys.exit(0) when imported
(a script whose training code runs at module level and exits when done)."""

import sys

from faultkit import build

sys.exit(0)

__all__ = ["build"]

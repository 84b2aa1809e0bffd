"""(a) stdout pollution at exit: the module registers an atexit hook that prints."""

import atexit

from faultkit import USER, build

atexit.register(lambda: print(f"{USER} goodbye from atexit"))

__all__ = ["build"]

"""(b) errors Python prints by itself: a thread of the user's code raising, a __del__ that
raises, an atexit hook that raises. Each is one line without --debug, not a traceback."""

import atexit
import threading

from faultkit import USER, loader, mlp
from torch import nn


class Leaky:
    def __del__(self) -> None:
        raise ValueError(f"{USER} in __del__")


def _thread() -> None:
    raise ValueError(f"{USER} in a thread")


def _at_exit() -> None:
    raise ValueError(f"{USER} at exit")


def build() -> tuple:
    worker = threading.Thread(target=_thread, name="prefetch")
    worker.start()
    worker.join()
    Leaky()  # dropped at once: its __del__ runs here
    atexit.register(_at_exit)
    return mlp(), loader(), nn.MSELoss()

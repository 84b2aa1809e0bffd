"""(f) a slow disk, for the "second signal while the outputs are written" probes.

Put this folder on PYTHONPATH: Python imports sitecustomize at start-up, and this one
wraps os.fsync so that an fsync of a file under $LRFIND_FAULT_SLOW_DIR (whose name
contains $LRFIND_FAULT_SLOW_MATCH, if set) touches $LRFIND_FAULT_SLOW_DIR/../fsync-started
and then takes $LRFIND_FAULT_SLOW_S seconds (as on a loaded NFS mount). lrfind is not
changed: it only meets a slow fsync.
"""

import os
import time
from pathlib import Path

_DIR = os.environ.get("LRFIND_FAULT_SLOW_DIR")
_MATCH = os.environ.get("LRFIND_FAULT_SLOW_MATCH", "")
_real_fsync = os.fsync


def _slow_fsync(fd: int) -> None:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        target = ""
    if _DIR and target.startswith(os.path.realpath(_DIR)) and _MATCH in Path(target).name:
        Path(_DIR).parent.joinpath("fsync-started").touch()
        deadline = time.monotonic() + float(os.environ.get("LRFIND_FAULT_SLOW_S", "3"))
        while time.monotonic() < deadline:  # short sleeps: signals are handled between them
            time.sleep(0.05)
    _real_fsync(fd)


if _DIR:
    os.fsync = _slow_fsync

"""Output folders and files: checked before the work, and their write errors in plain words.

Every command that writes (run, show, schedule, diagnose) checks its output
folder before it starts, so a bad --out-dir costs nothing; a write that still
fails (a full disk) is explained by its errno, with the fix that fits it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from lrfind.config.paths import user_path
from lrfind.errors import UsageError


def prepare_dir(folder: str | Path, names: tuple[str, ...] = (), option: str = "--out-dir") -> Path:
    """Create `folder` (absolute, `~` expanded) and check that `names` can be written in it.

    UsageError naming the path and the fix: a file where the folder should be,
    a folder where one of the files should be, a folder that cannot be created
    or written to.
    """
    path = user_path(folder)
    if exists(path) and not path.is_dir():
        raise UsageError(f"{option} {path} is an existing file: pass a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except ValueError as e:  # e.g. an embedded NUL byte from a config file
        raise UsageError(f"{option} {str(folder)!r} is not a valid path ({e})") from None
    except RecursionError:  # mkdir(parents=True) recurses once per missing folder
        raise UsageError(f"{option}: its path is nested too deeply to create") from None
    except OSError as e:
        raise UsageError(
            f"{option} {path} cannot be created ({e.strerror or e}): pass another folder"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path} is not writable: pass another folder")
    for name in names:
        target = path / name
        if target.is_dir():
            raise UsageError(
                f"{target} is a folder, in the way of the {name} lrfind writes there: "
                f"remove it or pass another {option}"
            )
    return path


def exists(path: Path) -> bool:
    """path.exists(), False where the path itself is unusable (a name too long, a NUL byte):
    prepare_dir then says why."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def cannot_write(path: str | Path, e: OSError, option: str = "--out-dir") -> str:
    """ "cannot write PATH (why): fix", the fix chosen by what went wrong."""
    why = e.strerror or str(e) or type(e).__name__
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        fix = f"free some space or pass another {option}"
    elif e.errno == errno.EISDIR:
        fix = f"a folder is in the way: remove it or pass another {option}"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        fix = f"the folder is not writable: pass another {option}"
    elif e.errno == errno.EFBIG:
        fix = f"a file size limit stops it (ulimit -f): raise it or pass another {option}"
    else:
        fix = f"pass another {option}"
    return f"cannot write {path} ({why}): {fix}"

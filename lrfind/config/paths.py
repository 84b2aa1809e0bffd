"""Paths the user gives, resolved once: `~` expanded, then made absolute.

Resolved when lrfind starts, against the cwd it started in, so that the user's
code changing the cwd (an `os.chdir` at import or in build) cannot move where
the results go, and a `~` from a config file or a quoted option means the home
folder, as the shell would have made it, not a folder literally named `~`.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_path(text: str | os.PathLike[str]) -> Path:
    """`text` with `~` expanded, absolute against the current cwd (nothing is touched).

    >>> user_path("/data/../runs").as_posix()
    '/runs'
    """
    return Path(os.path.abspath(os.path.expanduser(os.fspath(text))))

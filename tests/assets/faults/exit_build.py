"""(b) the user's code ends lrfind: build() calls sys.exit(code), or raises SystemExit
with a message (as a script's "dataset missing" check does)."""

import sys


def build(code: int = 0, message: str = "") -> tuple:
    if message:
        raise SystemExit(message)
    sys.exit(code)

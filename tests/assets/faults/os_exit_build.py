"""(b) the user's code calls os._exit(3) in build(): lrfind's exit and words, not silence."""

import os


def build() -> tuple:
    os._exit(3)

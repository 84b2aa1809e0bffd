"""(h) torchrun: one rank goes wrong in build(). mode "hang": rank 1 sleeps for an hour
(a rank stuck on a lock or a dead file system); "exit": rank 1 calls sys.exit(0);
"print": rank 1 prints to stdout (with --json, torchrun merges every rank's stdout)."""

import os
import sys
import time

from faultkit import USER
from faultkit import build as base_build

RANK = int(os.environ.get("RANK", "0"))


def build(mode: str = "hang", rank: int = 1) -> tuple:
    if rank == RANK:
        if mode == "hang":
            time.sleep(3600)
        elif mode == "exit":
            sys.exit(0)
        elif mode == "print":
            print(f"{USER} rank {RANK} built its model")
    return base_build()

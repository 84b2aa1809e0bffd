"""(a) stdout pollution from a child process: build() runs a command without capturing
its output (as `os.system("nvidia-smi")` or `subprocess.run(["git", "log", "-1"])` do)."""

import subprocess
import sys

from faultkit import USER
from faultkit import build as base_build


def build() -> tuple:
    subprocess.run([sys.executable, "-c", f"print('{USER} from a child process')"], check=True)
    return base_build()

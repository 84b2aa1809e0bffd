"""A build whose code writes to stdout every way there is: print at import, os.write(1)
in forward() (as C extensions do), a child process and an atexit hook. Under `lrfind run
--json` none of it may reach stdout (tests/test_faults_process.py)."""

import atexit
import os
import subprocess
import sys

import tiny  # tests/assets is on sys.path: lrfind puts the SPEC file's folder there
import torch
from torch import nn

print("chatty: imported")
atexit.register(lambda: print("chatty: at exit"))


class Chatty(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        os.write(1, b"chatty: from fd 1\n")
        return self.net(x)


def build() -> tuple:
    subprocess.run([sys.executable, "-c", "print('chatty: from a child')"], check=True)
    _, loader, loss = tiny.build()
    return Chatty(), loader, loss

"""(c) set-up: --compile where the model cannot compile. The model is plain; the
fault is the environment (the probe sets CXX to a compiler that does not exist, as on
a slim image without g++), so torch.compile fails in its first forward."""

from faultkit import build

__all__ = ["build"]

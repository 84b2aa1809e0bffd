"""(d) a known mistake: the SPEC names a DataLoader instance (spec_loader.py:train_loader)."""

from faultkit import build, loader

train_loader = loader()

__all__ = ["build", "train_loader"]

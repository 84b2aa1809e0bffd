"""(a) stdout pollution: the user's module prints when it is imported."""

from faultkit import USER, build

print(f"{USER} loading the model definitions")

__all__ = ["build"]

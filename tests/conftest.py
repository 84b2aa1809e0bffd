"""Shared fixtures: the tiny entrypoints in tests/assets and a CLI runner."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ASSETS = Path(__file__).parent / "assets"
TINY = ASSETS / "tiny.py"

if str(ASSETS) not in sys.path:
    sys.path.insert(0, str(ASSETS))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked gpu skip where CUDA is absent (CI has none)."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        has_cuda = False
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)


@pytest.fixture
def tiny_spec() -> str:
    return f"{TINY}:build"

"""Fixtures shared by every room's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT.parent / "shared" / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The real-producer vectors in ../shared/vectors (ground truth for the crypto)."""
    if not VECTORS.is_dir():
        pytest.fail(f"test vectors not found at {VECTORS}: clone the project beside shared/")
    return VECTORS

"""Fixtures of the crypto tier: golden files of our formats and deterministic randomness."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden"


@pytest.fixture
def golden() -> Callable[[str, bytes], None]:
    """Compare bytes with ``shared/tests/data/golden/<name>``.

    A format change fails here on purpose. After a deliberate change, regenerate
    with ``PHR_UPDATE_GOLDEN=1 uv run pytest shared/tests/crypto`` and bump the
    format version.
    """

    def check(name: str, data: bytes) -> None:
        path = GOLDEN / name
        if os.environ.get("PHR_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        assert path.exists(), f"golden file {name} missing; run with PHR_UPDATE_GOLDEN=1"
        assert data == path.read_bytes(), f"{name} changed: a format change needs a new version"

    return check


def counter_rand(seed: bytes = b"phr-test") -> Callable[[int], bytes]:
    """Deterministic stand-in for os.urandom: SHA-256 in counter mode."""
    state = {"i": 0}

    def rand(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + state["i"].to_bytes(8, "big")).digest()
            state["i"] += 1
        return out[:n]

    return rand


@pytest.fixture
def det_rand() -> Callable[[int], bytes]:
    return counter_rand()

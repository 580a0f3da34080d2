"""Deterministic randomness and key material for the golden vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from phr.crypto.export import KeyMaterial
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import SigningKey


def stream(label: str) -> Callable[[int], bytes]:
    """Deterministic bytes: SHA-256(label || counter) blocks, as many as asked for."""
    counter = 0

    def rand(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
            counter += 1
        return out[:n]

    return rand


def given(*chunks: bytes) -> Callable[[int], bytes]:
    """A rand(n) handing out the given byte strings in order."""
    queue = list(chunks)

    def rand(n: int) -> bytes:
        out = queue.pop(0)
        assert len(out) == n
        return out

    return rand


def material(label: str, *, patient: bool) -> KeyMaterial:
    rand = stream(label)
    pre = PreSecretKey.derive(rand(32), b"vector")
    user = UserKeys(pre, SigningKey.from_seed(rand(32)))
    master = PatientMasterKey(rand(32)) if patient else None
    return KeyMaterial(user=user, master=master, user_id=f"usr_{label}")

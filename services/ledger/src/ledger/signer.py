"""Signer protocol for blocks and checkpoints; Ed25519Signer wraps the ledger's key."""

from __future__ import annotations

from typing import Protocol

from phr.crypto.signing import SigningKey, VerifyKey
from phr.ledger.checkpoint import Checkpoint


class Signer(Protocol):
    """Signs with the ledger's key. Ed25519 is deterministic: replicas sign identically."""

    @property
    def public(self) -> VerifyKey: ...

    def sign(self, message: bytes) -> bytes: ...

    def sign_checkpoint(self, checkpoint: Checkpoint, name: str) -> str: ...


class Ed25519Signer:
    def __init__(self, key: SigningKey) -> None:
        self._key = key

    @property
    def public(self) -> VerifyKey:
        return self._key.verify_key

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def sign_checkpoint(self, checkpoint: Checkpoint, name: str) -> str:
        return checkpoint.sign(name, self._key)


def memory_signer(seed: bytes = bytes(32)) -> Ed25519Signer:
    """A fixed test key (never for production)."""
    return Ed25519Signer(SigningKey.from_seed(seed))

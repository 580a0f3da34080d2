"""Ed25519 signatures over canonical bytes.

Keys are wrapped so that neither ``repr`` nor ``str`` ever shows secret material.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from phr.crypto.canonical import canonical_json


class SignatureInvalid(Exception):
    """A signature does not verify under the given public key."""


def b64u_encode(raw: bytes) -> str:
    """URL-safe base64 without padding (as in JOSE)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Inverse of :func:`b64u_encode`; accepts missing padding."""
    pad = "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text + pad)


@dataclass(frozen=True)
class VerifyKey:
    """An Ed25519 public key (32 raw bytes)."""

    raw: bytes

    @classmethod
    def from_b64(cls, text: str) -> VerifyKey:
        raw = b64u_decode(text)
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")
        return cls(raw)

    def b64(self) -> str:
        return b64u_encode(self.raw)

    def fingerprint(self) -> str:
        """SHA-256 of the raw key, hex; names the key without revealing anything."""
        return hashlib.sha256(self.raw).hexdigest()

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raise :class:`SignatureInvalid` unless ``signature`` signs ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError) as exc:
            raise SignatureInvalid("signature does not verify") from exc

    def verify_json(self, signature: bytes, value: Any) -> None:
        self.verify(signature, canonical_json(value))


class SigningKey:
    """An Ed25519 secret key. Its repr never shows the key."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_b64(cls, text: str) -> SigningKey:
        return cls.from_seed(b64u_decode(text))

    def seed(self) -> bytes:
        """The 32-byte secret seed; handle with care."""
        return self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )

    def seed_b64(self) -> str:
        return b64u_encode(self.seed())

    @property
    def verify_key(self) -> VerifyKey:
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return VerifyKey(raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def sign_json(self, value: Any) -> bytes:
        return self.sign(canonical_json(value))

    def __repr__(self) -> str:
        return f"SigningKey(<secret>, fingerprint={self.verify_key.fingerprint()[:16]})"

    __str__ = __repr__

"""Seal bytes (a kfrag) to one SRS node's X25519 key, HPKE-like (base mode, one shot).

Envelope, version 1::

    "PHRK" | version u8 (=1) | kem u8 (=1: X25519) | kdf u8 (=1: HKDF-SHA256)
           | aead u8 (=1: AES-256-GCM) | enc (32: ephemeral public key) | ciphertext || tag

    context    = RFC 8785 JSON of {"fmt": "phr-seal/v1", "node_id", "grant_id"}
    key, nonce = HKDF-SHA256(ikm = X25519(eph, node), salt = enc || node_pk,
                             info = context, L = 44) split 32 | 12
    ciphertext = AES-256-GCM(key, nonce, plaintext, aad = header || context)

The node id and grant id are bound in both the key schedule and the AAD, so a sealed
kfrag opens only at the node it was made for and only under the grant it belongs to.
The key is single-use (fresh ephemeral key per envelope), so a derived nonce is safe.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from phr.crypto.canonical import canonical_json
from phr.crypto.errors import FormatError, IntegrityError, UnsealError
from phr.crypto.primitives import (
    aes256gcm_decrypt,
    aes256gcm_encrypt,
    hkdf_sha256,
    x25519_public,
    x25519_shared,
)
from phr.crypto.signing import b64u_decode, b64u_encode

SEAL_MAGIC: Final = b"PHRK"
SEAL_VERSION: Final = 1
_HEADER = struct.Struct(">4sBBBB")
_HEADER_BYTES: Final = _HEADER.pack(SEAL_MAGIC, SEAL_VERSION, 1, 1, 1)
_ENC = 32


@dataclass(frozen=True)
class NodePublicKey:
    """An SRS node's X25519 public key (32 bytes)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise FormatError("an X25519 public key has 32 bytes")

    @classmethod
    def from_b64(cls, text: str) -> NodePublicKey:
        return cls(b64u_decode(text))

    def b64(self) -> str:
        return b64u_encode(self.raw)


class NodeSecretKey:
    """An SRS node's X25519 secret key. Its repr never shows the key."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        if len(raw) != 32:
            raise FormatError("an X25519 secret key has 32 bytes")
        self._raw = bytes(raw)

    @classmethod
    def generate(cls) -> NodeSecretKey:
        from cryptography.hazmat.primitives import serialization

        key = X25519PrivateKey.generate()
        return cls(
            key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )

    @classmethod
    def from_b64(cls, text: str) -> NodeSecretKey:
        return cls(b64u_decode(text))

    def to_bytes(self) -> bytes:
        return self._raw

    def b64(self) -> str:
        return b64u_encode(self._raw)

    def public_key(self) -> NodePublicKey:
        return NodePublicKey(x25519_public(self._raw))

    def __repr__(self) -> str:
        return f"NodeSecretKey(<secret>, public={self.public_key().b64()[:12]})"

    __str__ = __repr__


def _context(node_id: str, grant_id: str) -> bytes:
    return canonical_json({"fmt": "phr-seal/v1", "node_id": node_id, "grant_id": grant_id})


def _key_nonce(shared: bytes, enc: bytes, node_pk: bytes, context: bytes) -> tuple[bytes, bytes]:
    okm = hkdf_sha256(shared, salt=enc + node_pk, info=context, length=44)
    return okm[:32], okm[32:]


def seal(
    node_pk: NodePublicKey,
    plaintext: bytes,
    *,
    node_id: str,
    grant_id: str,
    ephemeral: NodeSecretKey | None = None,
) -> bytes:
    """Seal ``plaintext`` to one node for one grant. ``ephemeral`` is for golden tests only."""
    eph = ephemeral or NodeSecretKey.generate()
    enc = eph.public_key().raw
    context = _context(node_id, grant_id)
    key, nonce = _key_nonce(x25519_shared(eph.to_bytes(), node_pk.raw), enc, node_pk.raw, context)
    return _HEADER_BYTES + enc + aes256gcm_encrypt(key, nonce, plaintext, _HEADER_BYTES + context)


def unseal(node_sk: NodeSecretKey, envelope: bytes, *, node_id: str, grant_id: str) -> bytes:
    """Open an envelope made by :func:`seal`; :class:`UnsealError` unless every binding matches."""
    if len(envelope) < _HEADER.size + _ENC + 16:
        raise FormatError("sealed envelope too short")
    if envelope[: _HEADER.size] != _HEADER_BYTES:
        raise FormatError("not a version-1 sealed envelope")
    enc = envelope[_HEADER.size : _HEADER.size + _ENC]
    context = _context(node_id, grant_id)
    node_pk = node_sk.public_key().raw
    key, nonce = _key_nonce(x25519_shared(node_sk.to_bytes(), enc), enc, node_pk, context)
    try:
        return aes256gcm_decrypt(
            key, nonce, envelope[_HEADER.size + _ENC :], _HEADER_BYTES + context
        )
    except IntegrityError as exc:
        raise UnsealError("envelope does not open for this node and grant") from exc

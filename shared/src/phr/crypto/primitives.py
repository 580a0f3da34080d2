"""Thin, typed wrappers over `cryptography` primitives that map failures to our errors.

The streaming segment cipher calls ``AESGCM`` directly for speed; everything else
(sealing, keystore, search) goes through here, and the known-answer tests
(Wycheproof, RFC 5869) run through these same functions.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from phr.crypto.errors import IntegrityError, UnsealError


def aes256gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a 12-byte nonce; returns ciphertext || 16-byte tag."""
    if len(key) != 32:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes256gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`aes256gcm_encrypt`; raises :class:`IntegrityError` on any forgery."""
    if len(key) != 32:
        raise ValueError("AES-256-GCM needs a 32-byte key")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise IntegrityError("AES-GCM authentication failed") from exc


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869), extract-and-expand."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def x25519_public(secret: bytes) -> bytes:
    """The 32-byte X25519 public key of a 32-byte secret."""
    return (
        X25519PrivateKey.from_private_bytes(secret)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def x25519_shared(secret: bytes, peer_public: bytes) -> bytes:
    """X25519 Diffie-Hellman; raises :class:`UnsealError` on a low-order (all-zero) result."""
    try:
        return X25519PrivateKey.from_private_bytes(secret).exchange(
            X25519PublicKey.from_public_bytes(peer_public)
        )
    except ValueError as exc:
        raise UnsealError("X25519 exchange failed (invalid or low-order public key)") from exc

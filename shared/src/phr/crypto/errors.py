"""Errors raised by the crypto core.

CryptoError
├── FormatError              bytes are not in one of our formats (bad magic, version, length)
├── IntegrityError           authenticated decryption failed
│   ├── ChunkAuthError       a chunk fails its tag: flipped bit, wrong key or wrong context,
│   │                        reordered, duplicated or dropped chunk
│   ├── TruncatedStream      the stream ends before its final chunk, or the header is cut short
│   ├── TrailingData         bytes follow the final chunk
│   └── DigestMismatch       the SHA-256 of the ciphertext is not the expected one
├── UnsealError              a sealed envelope does not open (wrong node, grant or key)
├── KeyFragInvalid           a kfrag does not verify against the grant's keys
├── CapsuleFragInvalid       a cfrag does not verify (forged, foreign or for another capsule)
├── CapsuleOpenError         a capsule does not open with the given key or cfrags
├── NotEnoughFragments       fewer verified cfrags than the threshold
├── KeystoreError            a keystore or key export cannot be read
│   └── WrongPassphrase      the passphrase does not open the keystore
└── SignatureInvalid         (re-exported from phr.crypto.signing)
"""

from __future__ import annotations

from phr.crypto.signing import SignatureInvalid


class CryptoError(Exception):
    """Base class of every error of the crypto core."""


class FormatError(CryptoError):
    """The bytes are not a well-formed object of one of our formats."""


class IntegrityError(CryptoError):
    """Authenticated decryption or an integrity check failed."""


class ChunkAuthError(IntegrityError):
    """A ciphertext chunk does not authenticate at its position with this key and context."""


class TruncatedStream(IntegrityError):
    """The ciphertext ends before its final chunk."""


class TrailingData(IntegrityError):
    """Bytes follow the final chunk of a ciphertext stream."""


class DigestMismatch(IntegrityError):
    """The SHA-256 of the ciphertext differs from the expected digest."""


class UnsealError(CryptoError):
    """A sealed envelope does not open with this key, node id and grant id."""


class KeyFragInvalid(CryptoError):
    """A key fragment does not verify against the grant's public keys."""


class CapsuleFragInvalid(CryptoError):
    """A capsule fragment does not verify against the capsule and the grant's public keys."""


class CapsuleOpenError(CryptoError):
    """A capsule does not open with the given secret key or fragments."""


class NotEnoughFragments(CryptoError):
    """Fewer verified capsule fragments than the threshold."""


class KeystoreError(CryptoError):
    """A keystore file or a key export cannot be read."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open the keystore."""


__all__ = [
    "CapsuleFragInvalid",
    "CapsuleOpenError",
    "ChunkAuthError",
    "CryptoError",
    "DigestMismatch",
    "FormatError",
    "IntegrityError",
    "KeyFragInvalid",
    "KeystoreError",
    "NotEnoughFragments",
    "SignatureInvalid",
    "TrailingData",
    "TruncatedStream",
    "UnsealError",
    "WrongPassphrase",
]

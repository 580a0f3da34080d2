"""Our one interface to Umbral threshold proxy re-encryption (umbral-pre 0.11).

Nothing outside this module imports ``umbral_pre``. Keys and fragments cross it as
our types or as bytes, and Umbral's exceptions become ours.

A :class:`KeyCapsule` carries a 64-byte :class:`SegmentSecret` (data key || search
key): Umbral's ``encrypt`` makes the capsule and wraps the secret with the capsule's
key (its DEM), so opening the capsule, directly or through cfrags, yields both keys.

Encoding of a KeyCapsule: ``"PHRC" | version u8 (=1) | len(capsule) u16 BE | capsule | wrapped``.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import umbral_pre

from phr.crypto.errors import (
    CapsuleFragInvalid,
    CapsuleOpenError,
    FormatError,
    KeyFragInvalid,
    NotEnoughFragments,
)
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import b64u_decode, b64u_encode

CAPSULE_MAGIC: Final = b"PHRC"
# The stubs of umbral-pre 0.11 omit VerificationError, which the module does export.
_VerificationError: type[Exception] = umbral_pre.VerificationError  # type: ignore[attr-defined]
CAPSULE_VERSION: Final = 1


@dataclass(frozen=True)
class PrePublicKey:
    """An Umbral (secp256k1) public key: 33 bytes, compressed."""

    raw: bytes
    #: the parsed point, kept: parsing costs ~50 µs and re-encryption needs three keys
    _pk: umbral_pre.PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            pk = umbral_pre.PublicKey.from_compressed_bytes(self.raw)
        except Exception as exc:  # umbral raises ValueError or TypeError
            raise FormatError("not an Umbral public key") from exc
        object.__setattr__(self, "_pk", pk)

    @classmethod
    def from_b64(cls, text: str) -> PrePublicKey:
        return cls(b64u_decode(text))

    def b64(self) -> str:
        return b64u_encode(self.raw)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def _umbral(self) -> umbral_pre.PublicKey:
        return self._pk


class PreSecretKey:
    """An Umbral secret key. Its repr never shows the key."""

    __slots__ = ("_sk",)

    def __init__(self, sk: umbral_pre.SecretKey) -> None:
        self._sk = sk

    @classmethod
    def generate(cls) -> PreSecretKey:
        return cls(umbral_pre.SecretKey.random())

    @classmethod
    def from_bytes(cls, raw: bytes) -> PreSecretKey:
        try:
            return cls(umbral_pre.SecretKey.from_be_bytes(raw))
        except Exception as exc:
            raise FormatError("not an Umbral secret key") from exc

    @classmethod
    def derive(cls, seed: bytes, label: bytes) -> PreSecretKey:
        """Deterministic key from a 32-byte seed and a label (Umbral SecretKeyFactory)."""
        factory = umbral_pre.SecretKeyFactory.from_secure_randomness(seed)
        return cls(factory.make_key(label))

    def to_bytes(self) -> bytes:
        """The 32-byte big-endian scalar; handle with care."""
        return bytes(self._sk.to_be_bytes())

    def public_key(self) -> PrePublicKey:
        return PrePublicKey(bytes(self._sk.public_key().to_compressed_bytes()))

    def __repr__(self) -> str:
        return f"PreSecretKey(<secret>, fingerprint={self.public_key().fingerprint()[:16]})"

    __str__ = __repr__


@dataclass(frozen=True)
class KeyCapsule:
    """An Umbral capsule plus the segment secret wrapped under it (see module doc)."""

    capsule: bytes
    wrapped: bytes
    #: the parsed Umbral capsule, made once (~130 µs each time otherwise)
    _parsed: umbral_pre.Capsule | None = field(default=None, repr=False, compare=False)

    def to_bytes(self) -> bytes:
        head = struct.pack(">4sBH", CAPSULE_MAGIC, CAPSULE_VERSION, len(self.capsule))
        return head + self.capsule + self.wrapped

    @classmethod
    def from_bytes(cls, raw: bytes) -> KeyCapsule:
        if len(raw) < 7:
            raise FormatError("key capsule too short")
        magic, version, n = struct.unpack(">4sBH", raw[:7])
        if magic != CAPSULE_MAGIC or version != CAPSULE_VERSION or len(raw) < 7 + n:
            raise FormatError("not a version-1 key capsule")
        capsule = raw[7 : 7 + n]
        try:
            parsed = umbral_pre.Capsule.from_bytes(capsule)
        except Exception as exc:
            raise FormatError("malformed Umbral capsule") from exc
        return cls(capsule, raw[7 + n :], parsed)

    def b64(self) -> str:
        return b64u_encode(self.to_bytes())

    @classmethod
    def from_b64(cls, text: str) -> KeyCapsule:
        return cls.from_bytes(b64u_decode(text))

    def _umbral(self) -> umbral_pre.Capsule:
        if self._parsed is None:
            object.__setattr__(self, "_parsed", umbral_pre.Capsule.from_bytes(self.capsule))
        assert self._parsed is not None
        return self._parsed


def encapsulate(segment_pk: PrePublicKey, secret: SegmentSecret) -> KeyCapsule:
    """Wrap a segment secret to a segment public key. Needs no secret: contributors call it."""
    capsule, wrapped = umbral_pre.encrypt(segment_pk._umbral(), secret.to_bytes())
    return KeyCapsule(bytes(capsule), bytes(wrapped), capsule)


def open_capsule(segment_sk: PreSecretKey, capsule: KeyCapsule) -> SegmentSecret:
    """The owner opens a capsule with the segment secret key."""
    try:
        raw = umbral_pre.decrypt_original(segment_sk._sk, capsule._umbral(), capsule.wrapped)
    except ValueError as exc:
        raise CapsuleOpenError("capsule does not open with this key") from exc
    return _secret(bytes(raw))


def _secret(raw: bytes) -> SegmentSecret:
    try:
        return SegmentSecret.from_bytes(raw)
    except ValueError as exc:
        raise CapsuleOpenError("capsule holds no segment secret") from exc


def generate_kfrags(
    delegating_sk: PreSecretKey,
    receiving_pk: PrePublicKey,
    signer_sk: PreSecretKey,
    *,
    threshold: int,
    shares: int,
) -> list[bytes]:
    """t-of-N re-encryption key fragments, signed over both public keys."""
    if not 1 <= threshold <= shares:
        raise ValueError("need 1 <= threshold <= shares")
    kfrags = umbral_pre.generate_kfrags(
        delegating_sk._sk,
        receiving_pk._umbral(),
        umbral_pre.Signer(signer_sk._sk),
        threshold,
        shares,
        True,
        True,
    )
    return [bytes(k) for k in kfrags]


class VerifiedKeyFrag:
    """A kfrag checked against its grant's keys, ready to re-encrypt (an SRS node may keep
    it while the grant stands). Its repr never shows the fragment."""

    __slots__ = ("_kfrag",)

    def __init__(self, kfrag: umbral_pre.VerifiedKeyFrag) -> None:
        self._kfrag = kfrag

    def __repr__(self) -> str:
        return "VerifiedKeyFrag(<secret>)"


def verify_kfrag(
    kfrag: bytes,
    *,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
    receiving_pk: PrePublicKey,
) -> VerifiedKeyFrag:
    """Check a kfrag was made by ``verifying_pk`` from ``delegating_pk`` for ``receiving_pk``."""
    try:
        verified = umbral_pre.KeyFrag.from_bytes(kfrag).verify(
            verifying_pk._umbral(), delegating_pk._umbral(), receiving_pk._umbral()
        )
    except (_VerificationError, ValueError, TypeError) as exc:
        raise KeyFragInvalid("kfrag does not verify against the grant's keys") from exc
    return VerifiedKeyFrag(verified)


def reencrypt_verified(capsule: KeyCapsule, kfrag: VerifiedKeyFrag) -> bytes:
    """Re-encrypt the capsule with a verified kfrag: a cfrag."""
    return bytes(umbral_pre.reencrypt(capsule._umbral(), kfrag._kfrag))


def reencrypt(
    capsule: KeyCapsule,
    kfrag: bytes,
    *,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
    receiving_pk: PrePublicKey,
) -> bytes:
    """Verify a kfrag against the grant's keys, then re-encrypt the capsule: a cfrag."""
    verified = verify_kfrag(
        kfrag, verifying_pk=verifying_pk, delegating_pk=delegating_pk, receiving_pk=receiving_pk
    )
    return reencrypt_verified(capsule, verified)


def open_reencrypted(
    receiving_sk: PreSecretKey,
    capsule: KeyCapsule,
    cfrags: Sequence[bytes],
    *,
    threshold: int,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
) -> SegmentSecret:
    """Verify each cfrag, then open the capsule with at least ``threshold`` of them."""
    umbral_capsule = capsule._umbral()
    receiving_pk = receiving_sk.public_key()._umbral()
    verified = []
    for i, cfrag in enumerate(cfrags):
        try:
            verified.append(
                umbral_pre.CapsuleFrag.from_bytes(cfrag).verify(
                    umbral_capsule, verifying_pk._umbral(), delegating_pk._umbral(), receiving_pk
                )
            )
        except (_VerificationError, ValueError, TypeError) as exc:
            raise CapsuleFragInvalid(f"cfrag {i} does not verify") from exc
    if len(set(cfrags)) < threshold:
        raise NotEnoughFragments(f"{len(set(cfrags))} distinct cfrags, threshold is {threshold}")
    try:
        raw = umbral_pre.decrypt_reencrypted(
            receiving_sk._sk, delegating_pk._umbral(), umbral_capsule, verified, capsule.wrapped
        )
    except ValueError as exc:
        raise CapsuleOpenError("capsule does not open with these cfrags") from exc
    if raw is None:
        raise CapsuleOpenError("capsule does not open with these cfrags")
    return _secret(bytes(raw))


def open_reencrypted_skipping(
    receiving_sk: PreSecretKey,
    capsule: KeyCapsule,
    cfrags: Sequence[bytes],
    *,
    threshold: int,
    verifying_pk: PrePublicKey,
    delegating_pk: PrePublicKey,
) -> tuple[SegmentSecret, list[int]]:
    """Like :func:`open_reencrypted`, but a cfrag that does not verify is skipped.

    For a reader that gathers cfrags from N nodes of which some may lie: every cfrag is
    checked (so a liar is named even when honest nodes suffice), forged, foreign or
    garbage ones are set aside, and the capsule opens with the distinct ones that
    verify. Returns the secret and the indices of the cfrags rejected; raises
    :class:`NotEnoughFragments` when fewer than ``threshold`` verify.
    """
    umbral_capsule = capsule._umbral()
    receiving_pk = receiving_sk.public_key()._umbral()
    verified: list[umbral_pre.VerifiedCapsuleFrag] = []
    seen: set[bytes] = set()
    rejected: list[int] = []
    for i, cfrag in enumerate(cfrags):
        if cfrag in seen:
            continue
        try:
            verified.append(
                umbral_pre.CapsuleFrag.from_bytes(cfrag).verify(
                    umbral_capsule, verifying_pk._umbral(), delegating_pk._umbral(), receiving_pk
                )
            )
            seen.add(cfrag)
        except (_VerificationError, ValueError, TypeError):
            rejected.append(i)
    if len(verified) < threshold:
        raise NotEnoughFragments(
            f"{len(verified)} valid cfrags ({len(rejected)} rejected), threshold is {threshold}"
        )
    try:
        raw = umbral_pre.decrypt_reencrypted(
            receiving_sk._sk, delegating_pk._umbral(), umbral_capsule, verified, capsule.wrapped
        )
    except ValueError as exc:
        raise CapsuleOpenError("capsule does not open with these cfrags") from exc
    if raw is None:
        raise CapsuleOpenError("capsule does not open with these cfrags")
    return _secret(bytes(raw)), rejected


def seal_to_key(receiving_pk: PrePublicKey, plaintext: bytes) -> KeyCapsule:
    """Encrypt short key material (a secret key) to an Umbral public key.

    Used to hand a group secret to a member, or a segment key to a delegate; the
    result opens only with :func:`open_sealed_key` and the matching secret key.
    """
    capsule, wrapped = umbral_pre.encrypt(receiving_pk._umbral(), plaintext)
    return KeyCapsule(bytes(capsule), bytes(wrapped))


def open_sealed_key(receiving_sk: PreSecretKey, sealed: KeyCapsule) -> bytes:
    """Open what :func:`seal_to_key` sealed; :class:`CapsuleOpenError` for another key."""
    try:
        return bytes(
            umbral_pre.decrypt_original(receiving_sk._sk, sealed._umbral(), sealed.wrapped)
        )
    except ValueError as exc:
        raise CapsuleOpenError("sealed key does not open with this key") from exc

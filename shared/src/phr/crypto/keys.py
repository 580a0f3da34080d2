"""Key hierarchy: the patient's master secret and a user's key pairs.

- A patient holds one 32-byte master secret. Umbral's ``SecretKeyFactory`` derives
  from it one key pair per (segment, version) under the label
  ``phr/segment/<segment>/v<version>``, the kfrag-signing key (``phr/kfrag-signer``)
  and one search key per (segment, version) (``phr/search/<segment>/v<version>``).
  Rotating a segment moves it to version + 1: new capsules go to the new key, old
  capsules can be re-wrapped (see ``phr.client.rotation``) without touching ciphertext.
- Every user (patients included) holds an Umbral pair, to receive re-encrypted
  capsules, and an Ed25519 pair, to sign.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import umbral_pre

from phr.crypto.pre import PrePublicKey, PreSecretKey
from phr.crypto.signing import SigningKey, VerifyKey, b64u_encode

MASTER_SECRET_SIZE = 32


def segment_label(segment: str, version: int) -> bytes:
    if version < 1 or "/" in segment or not segment:
        raise ValueError("segment names are non-empty without '/', versions start at 1")
    return f"phr/segment/{segment}/v{version}".encode()


class PatientMasterKey:
    """The patient's master secret. Its repr never shows it."""

    __slots__ = ("_factory", "_seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != MASTER_SECRET_SIZE:
            raise ValueError("a master secret has 32 bytes")
        self._seed = bytes(seed)
        self._factory = umbral_pre.SecretKeyFactory.from_secure_randomness(self._seed)

    @classmethod
    def generate(cls) -> PatientMasterKey:
        return cls(os.urandom(MASTER_SECRET_SIZE))

    def to_bytes(self) -> bytes:
        return self._seed

    def segment_secret_key(self, segment: str, version: int) -> PreSecretKey:
        return PreSecretKey(self._factory.make_key(segment_label(segment, version)))

    def segment_public_key(self, segment: str, version: int) -> PrePublicKey:
        return self.segment_secret_key(segment, version).public_key()

    def kfrag_signer(self) -> PreSecretKey:
        """Signs the patient's kfrags; its public key goes into every grant."""
        return PreSecretKey(self._factory.make_key(b"phr/kfrag-signer"))

    def search_key(self, segment: str, version: int) -> bytes:
        label = b"phr/search/" + segment_label(segment, version)[len(b"phr/segment/") :]
        return bytes(self._factory.make_secret(label))[:32]

    def public_keys(self, segments: list[str], version: int) -> dict[str, str]:
        """Segment name -> b64 public key, for publication to contributors."""
        return {s: self.segment_public_key(s, version).b64() for s in segments}

    def __repr__(self) -> str:
        return "PatientMasterKey(<secret>)"

    __str__ = __repr__


@dataclass(frozen=True)
class UserPublicKeys:
    """What a user publishes: the Umbral key to receive grants and the Ed25519 key."""

    pre: PrePublicKey
    verify: VerifyKey

    def to_json(self) -> dict[str, str]:
        return {"pre_pk": self.pre.b64(), "verify_key": self.verify.b64()}


class UserKeys:
    """A user's secret keys: Umbral (decryption) and Ed25519 (signing). Masked repr."""

    __slots__ = ("pre", "signing")

    def __init__(self, pre: PreSecretKey, signing: SigningKey) -> None:
        self.pre = pre
        self.signing = signing

    @classmethod
    def generate(cls) -> UserKeys:
        return cls(PreSecretKey.generate(), SigningKey.generate())

    def public(self) -> UserPublicKeys:
        return UserPublicKeys(self.pre.public_key(), self.signing.verify_key)

    def __repr__(self) -> str:
        return f"UserKeys(<secret>, verify_key={b64u_encode(self.signing.verify_key.raw)[:12]})"

    __str__ = __repr__

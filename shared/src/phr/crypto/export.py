"""Secret key export/import (plain JSON) and public fingerprints of a leaked key.

Export format (version 1), unencrypted, for backup and for the KGC's traitor tracing::

    {"format": "phr-secret-keys", "version": 1, "user_id": str | null,
     "pre_sk": b64u (Umbral scalar, 32 B), "signing_seed": b64u (Ed25519 seed, 32 B),
     "master_secret": b64u (32 B) | null}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from phr.crypto.errors import FormatError, KeystoreError
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import SigningKey, b64u_decode, b64u_encode

EXPORT_FORMAT = "phr-secret-keys"
EXPORT_VERSION = 1


@dataclass(frozen=True, repr=False)
class KeyMaterial:
    """Everything secret a user holds; a patient also holds a master secret."""

    user: UserKeys
    master: PatientMasterKey | None = None
    user_id: str | None = None

    def __repr__(self) -> str:
        return f"KeyMaterial(<secret>, user_id={self.user_id!r})"

    __str__ = __repr__


def export_secret_keys(material: KeyMaterial) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "user_id": material.user_id,
        "pre_sk": b64u_encode(material.user.pre.to_bytes()),
        "signing_seed": material.user.signing.seed_b64(),
        "master_secret": b64u_encode(material.master.to_bytes()) if material.master else None,
    }


def import_secret_keys(data: dict[str, Any] | str | bytes) -> KeyMaterial:
    doc = json.loads(data) if isinstance(data, str | bytes) else data
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise KeystoreError("not a PHR secret key export")
    if doc.get("version") != EXPORT_VERSION:
        raise KeystoreError(f"unsupported key export version {doc.get('version')!r}")
    try:
        user = UserKeys(
            PreSecretKey.from_bytes(b64u_decode(doc["pre_sk"])),
            SigningKey.from_seed(b64u_decode(doc["signing_seed"])),
        )
        master = doc.get("master_secret")
        return KeyMaterial(
            user=user,
            master=PatientMasterKey(b64u_decode(master)) if master else None,
            user_id=doc.get("user_id"),
        )
    except (KeyError, ValueError, TypeError, FormatError) as exc:
        raise KeystoreError("malformed key export") from exc


@dataclass(frozen=True)
class KeyFingerprint:
    """One public key a secret corresponds to. ``kind``: pre, ed25519 or kfrag-signer."""

    kind: str
    public_b64: str
    fingerprint: str


def public_keys_from_secret(leaked: dict[str, Any] | str | bytes) -> list[KeyFingerprint]:
    """Public keys and fingerprints of a leaked secret, for the KGC's traitor tracing.

    Accepts a key export (dict or JSON text) or raw key bytes. 32 raw bytes are
    ambiguous, so every valid reading is returned (Umbral scalar, Ed25519 seed); the
    KGC matches the fingerprints against its user directory.
    """
    if isinstance(leaked, dict) or (
        isinstance(leaked, str | bytes) and leaked.lstrip()[:1] in ("{", b"{")
    ):
        material = import_secret_keys(leaked)
        out = _user_fingerprints(material.user)
        if material.master is not None:
            pk = material.master.kfrag_signer().public_key()
            out.append(KeyFingerprint("kfrag-signer", pk.b64(), pk.fingerprint()))
        return out
    raw = leaked if isinstance(leaked, bytes) else b64u_decode(leaked.strip())
    if len(raw) != 32:
        raise KeystoreError("raw secret keys have 32 bytes")
    out = []
    try:
        pk = PreSecretKey.from_bytes(raw).public_key()
        out.append(KeyFingerprint("pre", pk.b64(), pk.fingerprint()))
    except FormatError:
        pass
    vk = SigningKey.from_seed(raw).verify_key
    out.append(KeyFingerprint("ed25519", vk.b64(), vk.fingerprint()))
    return out


def _user_fingerprints(user: UserKeys) -> list[KeyFingerprint]:
    pk, vk = user.pre.public_key(), user.signing.verify_key
    return [
        KeyFingerprint("pre", pk.b64(), pk.fingerprint()),
        KeyFingerprint("ed25519", vk.b64(), vk.fingerprint()),
    ]

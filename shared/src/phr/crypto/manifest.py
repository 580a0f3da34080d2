"""Signed record manifests: what a record holds and how to check its ciphertext.

owner-api calls :func:`verify_manifest` on upload (author = the patient or a
contributor whose key the KGC lists); cloud-store checks each segment's SHA-256
against the manifest; data users verify before they decrypt.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.documents import sign_document, verify_document
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey

_HEX64 = r"^[0-9a-f]{64}$"


class SegmentEntry(BaseModel):
    """One encrypted segment of a record."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    key_version: int = Field(ge=1, description="version bound in the ciphertext's AAD")
    capsule_version: int = Field(ge=1, description="segment key version the capsule opens with")
    chunk_size: int = Field(ge=1)
    plaintext_size: int = Field(ge=0)
    size: int = Field(ge=0, description="ciphertext bytes, header included")
    sha256: str = Field(pattern=_HEX64, description="SHA-256 of the ciphertext, hex")
    capsule: str = Field(description="b64u KeyCapsule wrapping data key || search key")
    tag_count: int = Field(ge=0)
    resource_count: int = Field(ge=0)


class RecordManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["phr-record-manifest"] = "phr-record-manifest"
    version: Literal[1] = 1
    patient_id: str
    record_id: str
    created_at: str
    author: str = Field(description="b64u Ed25519 key of the signer (patient or contributor)")
    segments: list[SegmentEntry]

    def segment(self, name: str) -> SegmentEntry:
        for entry in self.segments:
            if entry.name == name:
                return entry
        raise KeyError(name)


class SignedRecordManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    manifest: RecordManifest
    signature: str


def sign_manifest(manifest: RecordManifest, key: SigningKey) -> SignedRecordManifest:
    if manifest.author != key.verify_key.b64():
        raise ValueError("manifest.author must be the signing key's public key")
    return SignedRecordManifest(manifest=manifest, signature=sign_document(key, manifest))


def verify_manifest(
    signed: SignedRecordManifest | dict[str, Any],
    *,
    expected_author: VerifyKey | None = None,
) -> RecordManifest:
    """Check the signature (by ``manifest.author``, which must be ``expected_author`` if given).

    Raises :class:`SignatureInvalid` for a bad signature, a wrong author or a malformed
    manifest.
    """
    raw = signed.model_dump(mode="json") if isinstance(signed, BaseModel) else signed
    try:
        parsed = SignedRecordManifest.model_validate(raw)
        author = VerifyKey.from_b64(parsed.manifest.author)
    except (ValidationError, ValueError) as exc:
        raise SignatureInvalid("malformed signed manifest") from exc
    if expected_author is not None and author != expected_author:
        raise SignatureInvalid("manifest signed by an unexpected author")
    verify_document(author, raw["manifest"], parsed.signature)
    return parsed.manifest

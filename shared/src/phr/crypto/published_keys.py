"""The patient's published segment public keys, signed by him (issue 6).

Contributors encrypt new records to these keys; the SDK learns from them which key
version of each segment is current. owner-api serves the document but cannot forge
it: it is signed by the patient's Ed25519 key, which the KGC lists.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.documents import sign_document, verify_document
from phr.crypto.pre import PrePublicKey
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey


class SegmentPublicKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: int = Field(ge=1)
    public_key: str = Field(description="b64u Umbral public key of (segment, version)")


class PatientKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["phr-patient-keys"] = "phr-patient-keys"
    version: Literal[1] = 1
    patient_id: str
    segments: dict[str, SegmentPublicKey]
    issued_at: str
    author: str = Field(description="b64u Ed25519 key of the patient")

    def recipient_keys(self) -> dict[str, tuple[PrePublicKey, int]]:
        """segment -> (public key, version), as ``phr.client.ContributorKeys`` takes them."""
        return {
            s: (PrePublicKey.from_b64(k.public_key), k.version) for s, k in self.segments.items()
        }


class SignedPatientKeys(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    keys: PatientKeys
    signature: str


def sign_patient_keys(keys: PatientKeys, key: SigningKey) -> SignedPatientKeys:
    if keys.author != key.verify_key.b64():
        raise ValueError("keys.author must be the signing key's public key")
    return SignedPatientKeys(keys=keys, signature=sign_document(key, keys))


def verify_patient_keys(
    signed: SignedPatientKeys | dict[str, Any], *, expected_author: VerifyKey | None = None
) -> PatientKeys:
    """Check the signature (and author, if given); raises :class:`SignatureInvalid`."""
    raw = signed.model_dump(mode="json") if isinstance(signed, BaseModel) else signed
    try:
        parsed = SignedPatientKeys.model_validate(raw)
        author = VerifyKey.from_b64(parsed.keys.author)
    except (ValidationError, ValueError) as exc:
        raise SignatureInvalid("malformed signed key document") from exc
    if expected_author is not None and author != expected_author:
        raise SignatureInvalid("key document signed by an unexpected author")
    verify_document(author, raw["keys"], parsed.signature)
    return parsed.keys

"""Signed grant documents: the public half of a grant, checked by every SRS node.

The sealed kfrags travel beside the document; the document pins each one by
SHA-256, so a node can tell that its envelope belongs to this grant.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.documents import sign_document, verify_document
from phr.crypto.pre import PrePublicKey
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey


class GrantDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: Literal["phr-grant"] = "phr-grant"
    version: Literal[1] = 1
    grant_id: str
    patient_id: str
    grantee_id: str
    segment: str
    key_version: int = Field(ge=1)
    threshold: int = Field(ge=1)
    delegating_pk: str = Field(description="b64u segment public key (per segment and version)")
    receiving_pk: str = Field(description="b64u grantee Umbral public key")
    verifying_pk: str = Field(description="b64u patient kfrag-signer public key")
    kfrag_sha256: dict[str, str] = Field(description="node id -> SHA-256 hex of its sealed kfrag")
    not_before: str | None = None
    expires_at: str | None = None
    purpose: str | None = None
    author: str = Field(description="b64u Ed25519 key of the patient (or delegate) who signs")

    def keys(self) -> tuple[PrePublicKey, PrePublicKey, PrePublicKey]:
        """(verifying, delegating, receiving) public keys, as reencrypt wants them."""
        return (
            PrePublicKey.from_b64(self.verifying_pk),
            PrePublicKey.from_b64(self.delegating_pk),
            PrePublicKey.from_b64(self.receiving_pk),
        )


class SignedGrant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    grant: GrantDocument
    signature: str


def sign_grant(grant: GrantDocument, key: SigningKey) -> SignedGrant:
    if grant.author != key.verify_key.b64():
        raise ValueError("grant.author must be the signing key's public key")
    return SignedGrant(grant=grant, signature=sign_document(key, grant))


def verify_grant(
    signed: SignedGrant | dict[str, Any], *, expected_author: VerifyKey | None = None
) -> GrantDocument:
    """Check a grant's signature; raises :class:`SignatureInvalid`."""
    raw = signed.model_dump(mode="json") if isinstance(signed, BaseModel) else signed
    try:
        parsed = SignedGrant.model_validate(raw)
        author = VerifyKey.from_b64(parsed.grant.author)
    except (ValidationError, ValueError) as exc:
        raise SignatureInvalid("malformed signed grant") from exc
    if expected_author is not None and author != expected_author:
        raise SignatureInvalid("grant signed by an unexpected author")
    verify_document(author, raw["grant"], parsed.signature)
    return parsed.grant

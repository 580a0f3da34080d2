"""The KGC's signed credential: binds a user id to attributes, key fingerprints and expiry."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode


class CredentialInvalid(Exception):
    """Wrong signer, bad signature or expired."""


class Credential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = 1
    issuer: str = "kgc"
    user_id: str
    role: str
    organisation_id: str | None = None
    department: str | None = None
    ed25519_fingerprint: str
    umbral_fingerprint: str
    #: seconds since the epoch
    issued_at: int
    expires_at: int


class SignedCredential(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    credential: Credential
    #: SHA-256 hex of the KGC key that signed
    signer: str
    #: base64url Ed25519 over the RFC 8785 JSON of ``credential``
    signature: str


def sign_credential(credential: Credential, key: SigningKey) -> SignedCredential:
    return SignedCredential(
        credential=credential,
        signer=key.verify_key.fingerprint(),
        signature=b64u_encode(key.sign_json(credential.model_dump(mode="json"))),
    )


def verify_credential(
    signed: SignedCredential, kgc_key: VerifyKey, now: float | None = None
) -> Credential:
    """The credential if ``kgc_key`` signed it and it has not expired."""
    if signed.signer != kgc_key.fingerprint():
        raise CredentialInvalid("credential signed by another key")
    try:
        kgc_key.verify_json(
            b64u_decode(signed.signature), signed.credential.model_dump(mode="json")
        )
    except (SignatureInvalid, ValueError) as exc:
        raise CredentialInvalid("bad credential signature") from exc
    if signed.credential.expires_at < (now if now is not None else time.time()):
        raise CredentialInvalid("credential expired")
    return signed.credential

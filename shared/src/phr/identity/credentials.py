"""The KGC's signed credential: binds a user id to attributes, key fingerprints and expiry."""

from __future__ import annotations

import time

from phr.api.kgc import Credential, SignedCredential
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode

__all__ = [
    "Credential",
    "CredentialInvalid",
    "SignedCredential",
    "sign_credential",
    "verify_credential",
]


class CredentialInvalid(Exception):
    """Wrong signer, bad signature or expired."""


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

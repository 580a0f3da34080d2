"""What a user signs with his Ed25519 key: enrolment (proof of possession) and login.

Both are RFC 8785 canonical JSON with a ``purpose`` so that one signature can never be
replayed as the other.
"""

from __future__ import annotations

from phr.crypto.canonical import canonical_json


def enrolment_message(
    *,
    role: str,
    organisation_id: str | None,
    department: str | None,
    ed25519_public: str,
    umbral_public: str,
) -> bytes:
    """Signed by the enrolling user: binds his attributes to both public keys."""
    return canonical_json(
        {
            "purpose": "phr-enrol-v1",
            "role": role,
            "organisation_id": organisation_id,
            "department": department,
            "ed25519_public": ed25519_public,
            "umbral_public": umbral_public,
        }
    )


def login_message(*, user_id: str, nonce: str) -> bytes:
    """Signed by a user to answer a login challenge (the nonce is single use)."""
    return canonical_json({"purpose": "phr-login-v1", "user_id": user_id, "nonce": nonce})

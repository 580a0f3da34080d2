"""Example values of the wire models' OpenAPI ``examples``: one story, told consistently.

A patient (:data:`PATIENT`) uploads a lab record (:data:`RECORD`) and grants its
``labs`` segment to a doctor (:data:`DOCTOR`) of a hospital (:data:`ORG`). Every id fits
:data:`phr.api.ids.ID_PATTERN` and has the prefix the system issues it with; keys and
signatures are base64url of the right lengths (Ed25519 keys 32 bytes, Umbral keys 33,
signatures 64); digests and tags are lowercase hex SHA-256. The values were made with
the SDK's own key generation (``UserKeys.generate()``), so they look like the real
thing, but sign nothing. tests/unit/test_openapi_examples.py checks every example
against its schema.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from pydantic import ConfigDict

PATIENT: Final = "u_7f3a9c2e41b8d05e6a12"
DOCTOR: Final = "u_2b8d4e6f90a1c3e5b7d9"
OPERATOR: Final = "u_operator"
ORG: Final = "org_3c1e5a7b9d2f"
GROUP: Final = "grp_8c7d6e5f4a3b"
RECORD: Final = "r_9e4f1a2b3c5d4e6f8a0b1c2d3e4f5a6b"
UPLOAD: Final = "up_5d2c8e1f7a3b4c6d8e0f1a2b3c4d5e6f"
GRANT: Final = "g_1a2b3c4d5e6f4a8b9c0d1e2f3a4b5c6d"
REQUEST: Final = "6f1c2d3e4a5b46c7d8e9f0a1b2c3d4e5"
NODE: Final = "srs-1"
SEGMENT: Final = "labs"
TIME: Final = "2026-03-14T09:26:53Z"
LATER: Final = "2026-03-14T09:31:53Z"
EXPIRES: Final = "2027-03-14T00:00:00Z"

#: base64url, 32 bytes: an Ed25519 public key
ED25519_PUBLIC: Final = "gc7viKLsos4Y6ayrPZPUJr5JI6dHyuYGHSZuklvn4nA"
#: base64url, 33 bytes: a compressed Umbral (secp256k1) public key
UMBRAL_PUBLIC: Final = "A2WtzpiBKUDJq8AWmK5qqGq_JB7OoemnXAsKDN0yWe4Q"
#: base64url, 32 bytes: an X25519 public key
X25519_PUBLIC: Final = "qvqRQyxxEtOHd309Jz690qZj9AnQLiWyYXjfcWr7QpQ"
#: base64url, 64 bytes: an Ed25519 signature
SIGNATURE: Final = (
    "2vbuv1R9L6PuNQ6ANB9SlMM56TncGSBp1QghucRniK6Zw5y0APP39lF5QGI7Ll7gRXxTYFk32PC0775Tp5sZAA"
)
#: SHA-256 hex of a public key (what the system calls a fingerprint)
FINGERPRINT: Final = "2ee2867116cc24f0cf267577bbabcee41119e4fdbd6ae8db9b82c880ebc910e7"
#: SHA-256 hex of a segment's ciphertext
SHA256: Final = "8ace1fe2c2e2152e83ddd05cf3791fb71cbde949dc6f49f78845cde7324421d9"
MANIFEST_SHA256: Final = "05b3abf2579a5eb66403cd78be557fd860633a1fe2103c7642030defe32c657f"
#: HMAC keyword tags (and the trapdoors that find them)
TAGS: Final = (
    "60edbf89cca0bf1dd45b435b1ec67928d8a122b37d7e67dda2b51ef1da0cc318",
    "a086fa4ed7f56c57d13199732aa4fe762404e08ecc9f93fb8c9aac4352b29792",
)
#: base64url KeyCapsule (a capsule, or a key sealed to an Umbral key)
CAPSULE: Final = (
    "-1667YkNM5SdI8qJ40XmObJt8ooq5zv8WMjhu4QBXExaM8b1uzLtjyglVOiAJDDVBvYwRv_AT4WVknP-"
    "hPukY85T_srhJPOZlRx9bxYes_Bmdd-CkCqLquKhIYADH7Yg5s4"
)
#: base64url capsule fragment / sealed kfrag
CFRAG: Final = (
    "lTzJVrISNIT0aTWG89o58dhtynXQROCBzOKqgKvkJRYBHqzQ5AJgeyENo7sPDFbpG_mIzI4Q9kHgIEDW2i_w"
    "nXBvIQbQv2bNZydReajXwP9AWreWdiHl8vkuebt9cSkzGmofGYHe4SI71aO7fSaqDMyxB0OY3j-P"
)
#: an access token (a JWT, EdDSA-signed by the KGC)
ACCESS_TOKEN: Final = (
    "eyJhbGciOiJFZERTQSIsImtpZCI6ImtnYyIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJrZ2MiLCJzdWIiOiJ1XzdmM2E5"
    "YzJlIiwiYXVkIjoib3duZXItYXBpIiwiaWF0IjoxNzk2MjIxMjIxLCJleHAiOjE3OTYyMjIxMjEsImp0aSI6ImMxZG"
    "Y2ZDE4ZTE0YTQyNTlhZDRiNTNlMTZjMzNiM2EyIiwicm9sZSI6InBhdGllbnQiLCJvcmciOm51bGwsImRlcHQiOm51"
    "bGwsImtmcCI6bnVsbH0.WdurNqwMqQLMrWjJZ821NjRLty-RWrhWX9uLkVyN8jL5aB9cqzX6LO-Kaf6lw4jyxqar9HX"
    "lg-QUP8WtMx2PDw"
)
#: an S3 presigned URL (the query abridged)
PUT_URL: Final = (
    "https://s3.phr.example/phr-records/u_7f3a9c2e41b8d05e6a12/"
    "r_9e4f1a2b3c5d4e6f8a0b1c2d3e4f5a6b/labs/v1?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Expires=300&X-Amz-Signature=5e0c0c8d3f"
)
GET_URL: Final = PUT_URL.replace("X-Amz-Expires=300", "X-Amz-Expires=120")
BLOB_KEY: Final = f"{PATIENT}/{RECORD}/{SEGMENT}/v1"

SIGNED_MANIFEST: Final[dict[str, Any]] = {
    "manifest": {
        "format": "phr-record-manifest",
        "version": 1,
        "patient_id": PATIENT,
        "record_id": RECORD,
        "created_at": TIME,
        "author": ED25519_PUBLIC,
        "segments": [
            {
                "name": SEGMENT,
                "key_version": 1,
                "capsule_version": 1,
                "chunk_size": 65536,
                "plaintext_size": 18211,
                "size": 18355,
                "sha256": SHA256,
                "capsule": CAPSULE,
                "tag_count": 2,
                "resource_count": 3,
            }
        ],
    },
    "signature": SIGNATURE,
}

SIGNED_GRANT: Final[dict[str, Any]] = {
    "grant": {
        "format": "phr-grant",
        "version": 1,
        "grant_id": GRANT,
        "patient_id": PATIENT,
        "grantee_id": DOCTOR,
        "segment": SEGMENT,
        "key_version": 1,
        "threshold": 2,
        "delegating_pk": UMBRAL_PUBLIC,
        "receiving_pk": UMBRAL_PUBLIC,
        "verifying_pk": ED25519_PUBLIC,
        "not_before": None,
        "expires_at": EXPIRES,
        "purpose": "diabetes follow-up",
        "author": ED25519_PUBLIC,
    },
    "signature": SIGNATURE,
}

SIGNED_KEYS: Final[dict[str, Any]] = {
    "keys": {
        "format": "phr-patient-keys",
        "version": 1,
        "patient_id": PATIENT,
        "segments": {SEGMENT: {"version": 1, "public_key": UMBRAL_PUBLIC}},
        "issued_at": TIME,
        "author": ED25519_PUBLIC,
    },
    "signature": SIGNATURE,
}

SEGMENT_OUT: Final[dict[str, Any]] = {
    "name": SEGMENT,
    "key_version": 1,
    "size": 18355,
    "sha256": SHA256,
    "tag_count": 2,
    "resource_count": 3,
}

CREDENTIAL: Final[dict[str, Any]] = {
    "credential": {
        "version": 1,
        "issuer": "kgc",
        "user_id": PATIENT,
        "role": "patient",
        "organisation_id": None,
        "department": None,
        "ed25519_fingerprint": FINGERPRINT,
        "umbral_fingerprint": FINGERPRINT,
        "issued_at": 1773480413,
        "expires_at": 1805016413,
    },
    "signer": FINGERPRINT,
    "signature": SIGNATURE,
}

#: one SRS node's signed answer to a re-encryption request (``phr.api.srs``)
REENCRYPT_ANSWER: Final[dict[str, Any]] = {
    "format": "phr-srs-reencrypt/v1",
    "node_id": NODE,
    "request_id": REQUEST,
    "patient_id": PATIENT,
    "record_id": RECORD,
    "requester_id": DOCTOR,
    "issued_at": LATER,
    "granted": [
        {
            "segment": SEGMENT,
            "grant_id": GRANT,
            "key_version": 1,
            "cfrag": CFRAG,
            "signed_grant": SIGNED_GRANT,
            "node_id": NODE,
            "breakglass": False,
        }
    ],
    "denied": [{"segment": "imaging", "reason": "no-grant", "node_id": NODE}],
    "breakglass": None,
    "node_signature": SIGNATURE,
}


def examples(*docs: Any) -> ConfigDict:
    """A model's config carrying ``docs`` as its JSON Schema ``examples``."""
    return ConfigDict(json_schema_extra={"examples": list(docs)})


def example_of(model: Any) -> Any:
    """The first example a model declared with :func:`examples`, to nest it in another's
    (a list of them, say) instead of writing it again."""
    return copy.deepcopy(model.model_config["json_schema_extra"]["examples"][0])

"""An SRS node's bodies: the re-encryption request and its signed answer, node info.

The answer is signed by the node (Ed25519 over the RFC 8785 JSON of every field but
``node_signature``); ``phr.client.srs`` checks it. :data:`ANSWER_FORMAT` names its
version.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from phr.api import examples as ex
from phr.api._base import In, Out

AnswerFormat = Literal["phr-srs-reencrypt/v1"]
ANSWER_FORMAT: Final[AnswerFormat] = "phr-srs-reencrypt/v1"


class ReencryptRequest(In):
    model_config = ex.examples(
        {
            "request_id": ex.REQUEST,
            "patient_id": ex.PATIENT,
            "record_id": ex.RECORD,
            "segments": [ex.SEGMENT],
        }
    )
    request_id: str = Field(min_length=1, max_length=128, description="caller's id, echoed")
    patient_id: str = Field(min_length=1, max_length=128)
    record_id: str = Field(min_length=1, max_length=128)
    segments: list[str] = Field(min_length=1, description="segment names, e.g. ['labs']")
    breakglass_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="emergency access: required to use an emergency grant, always audited",
    )


class SegmentCfrag(Out):
    model_config = ex.examples(
        {
            "segment": ex.SEGMENT,
            "grant_id": ex.GRANT,
            "key_version": 1,
            "cfrag": ex.CFRAG,
            "signed_grant": ex.SIGNED_GRANT,
            "node_id": ex.NODE,
            "breakglass": False,
        }
    )
    segment: str
    grant_id: str
    key_version: int
    cfrag: str = Field(description="base64url capsule fragment for the grantee")
    signed_grant: dict[str, Any] = Field(description="the patient-signed grant document")
    node_id: str
    breakglass: bool = False


class SegmentDenied(Out):
    model_config = ex.examples({"segment": "imaging", "reason": "no-grant", "node_id": ex.NODE})
    segment: str
    reason: str
    node_id: str


class BreakglassInfo(Out):
    model_config = ex.examples(
        {"reason": "unconscious in A&E", "segments": ["conditions"], "expires_in_s": 3600}
    )
    reason: str
    segments: list[str]
    expires_in_s: int


class ReencryptResponse(Out):
    """Signed by the node: Ed25519 over RFC 8785 JSON of every field but ``node_signature``."""

    model_config = ex.examples(ex.REENCRYPT_ANSWER)

    format: AnswerFormat = ANSWER_FORMAT
    node_id: str
    request_id: str
    patient_id: str
    record_id: str
    requester_id: str
    issued_at: str = Field(description="ISO 8601 UTC")
    granted: list[SegmentCfrag]
    denied: list[SegmentDenied]
    breakglass: BreakglassInfo | None = None
    node_signature: str = Field(default="", description="base64url Ed25519 signature")


class NodeInfo(Out):
    model_config = ex.examples(
        {
            "node_id": ex.NODE,
            "x25519_public": ex.X25519_PUBLIC,
            "ed25519_public": ex.ED25519_PUBLIC,
            "breakglass_window_s": 3600,
            "events": {
                "applied": 42,
                "rejected_envelopes": 0,
                "rejected_grants": 0,
                "pending_grants": 0,
                "ignored": 3,
            },
        }
    )
    node_id: str
    x25519_public: str = Field(description="base64url X25519 key kfrags are sealed to")
    ed25519_public: str = Field(description="base64url key that signs responses and events")
    breakglass_window_s: int
    events: dict[str, int]


class GrantList(Out):
    model_config = ex.examples(
        {
            "node_id": ex.NODE,
            "patient_id": ex.PATIENT,
            "key_versions": {ex.SEGMENT: 1},
            "grants": [
                {
                    "grant_id": ex.GRANT,
                    "patient_id": ex.PATIENT,
                    "grantee_user_id": ex.DOCTOR,
                    "grantee_group": None,
                    "segments": [ex.SEGMENT],
                    "not_before": None,
                    "expires_at": ex.EXPIRES,
                    "data_from": None,
                    "purpose": "diabetes follow-up",
                    "emergency": False,
                    "threshold": 2,
                    "granted_by": ex.PATIENT,
                    "on_behalf_of": None,
                    "key_versions": [{"segment": ex.SEGMENT, "key_version": 1}],
                    "created_at": ex.TIME,
                    "status": "active",
                    "revoked_at": None,
                }
            ],
        }
    )
    node_id: str
    patient_id: str
    key_versions: dict[str, int] = Field(description="newest key version per segment")
    grants: list[dict[str, Any]]

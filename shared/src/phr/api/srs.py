"""An SRS node's bodies: the re-encryption request and its signed answer, node info.

The answer is signed by the node (Ed25519 over the RFC 8785 JSON of every field but
``node_signature``); ``phr.client.srs`` checks it. :data:`ANSWER_FORMAT` names its
version.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from phr.api._base import In, Out

AnswerFormat = Literal["phr-srs-reencrypt/v1"]
ANSWER_FORMAT: Final[AnswerFormat] = "phr-srs-reencrypt/v1"


class ReencryptRequest(In):
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
    segment: str
    grant_id: str
    key_version: int
    cfrag: str = Field(description="base64url capsule fragment for the grantee")
    signed_grant: dict[str, Any] = Field(description="the patient-signed grant document")
    node_id: str
    breakglass: bool = False


class SegmentDenied(Out):
    segment: str
    reason: str
    node_id: str


class BreakglassInfo(Out):
    reason: str
    segments: list[str]
    expires_in_s: int


class ReencryptResponse(Out):
    """Signed by the node: Ed25519 over RFC 8785 JSON of every field but ``node_signature``."""

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
    node_id: str
    x25519_public: str = Field(description="base64url X25519 key kfrags are sealed to")
    ed25519_public: str = Field(description="base64url key that signs responses and events")
    breakglass_window_s: int
    events: dict[str, int]


class GrantList(Out):
    node_id: str
    patient_id: str
    key_versions: dict[str, int] = Field(description="newest key version per segment")
    grants: list[dict[str, Any]]

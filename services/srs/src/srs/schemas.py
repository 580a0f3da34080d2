"""Request and response bodies of the node's HTTP API (what the OpenAPI shows)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RESPONSE_FORMAT: Literal["phr-srs-reencrypt/v1"] = "phr-srs-reencrypt/v1"


class ReencryptRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=128, description="caller's id, echoed")
    patient_id: str = Field(min_length=1, max_length=128)
    record_id: str = Field(min_length=1, max_length=128)
    segments: list[str] = Field(min_length=1, description="segment names, e.g. ['labs']")
    breakglass_reason: str | None = Field(
        default=None,
        max_length=2000,
        description="emergency access: required to use an emergency grant, always audited",
    )


class SegmentCfrag(BaseModel):
    segment: str
    grant_id: str
    key_version: int
    cfrag: str = Field(description="base64url capsule fragment for the grantee")
    signed_grant: dict[str, Any] = Field(description="the patient-signed grant document")
    node_id: str
    breakglass: bool = False


class SegmentDenied(BaseModel):
    segment: str
    reason: str
    node_id: str


class BreakglassInfo(BaseModel):
    reason: str
    segments: list[str]
    expires_in_s: int


class ReencryptResponse(BaseModel):
    """Signed by the node: Ed25519 over RFC 8785 JSON of every field but ``node_signature``."""

    format: Literal["phr-srs-reencrypt/v1"] = RESPONSE_FORMAT
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


class NodeInfo(BaseModel):
    node_id: str
    x25519_public: str = Field(description="base64url X25519 key kfrags are sealed to")
    ed25519_public: str = Field(description="base64url key that signs responses and events")
    breakglass_window_s: int
    events: dict[str, int]


class GrantList(BaseModel):
    node_id: str
    patient_id: str
    key_versions: dict[str, int] = Field(description="newest key version per segment")
    grants: list[dict[str, Any]]

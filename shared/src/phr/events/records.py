"""Record lifecycle events, produced by owner-api."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from phr.events.base import EventData


class SegmentSummary(EventData):
    segment: str
    key_version: int = Field(ge=1)
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    capsule: str | None = Field(
        default=None,
        description="base64url key capsule (public: opens only with the segment key or a "
        "re-encryption); SRS nodes re-encrypt this capsule, not one a requester brings",
    )


class RecordUploaded(EventData):
    patient_id: str
    record_id: str
    uploaded_by: str
    uploaded_at: datetime | None = None
    manifest_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    segments: list[SegmentSummary]


class RecordDeleted(EventData):
    patient_id: str
    record_id: str
    deleted_by: str

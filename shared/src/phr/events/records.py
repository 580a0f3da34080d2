"""Record lifecycle events, produced by owner-api."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    signed_manifest: dict[str, Any] | None = Field(
        default=None,
        description="the record's signed manifest as its author sent it (SHA-256 of its "
        "RFC 8785 JSON = manifest_sha256): public metadata and capsules, no plaintext. "
        "owner-api rebuilds the record's metadata from it; absent in events written "
        "before 2026-12",
    )


class RecordDeleted(EventData):
    patient_id: str
    record_id: str
    deleted_by: str

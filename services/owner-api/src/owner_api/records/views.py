"""Request and response bodies of owner-api's record routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from phr.api.ids import HEX64_PATTERN, ID_PATTERN
from phr.service.mongo import Document

TAG_PATTERN = HEX64_PATTERN

Tag = Annotated[str, Field(pattern=TAG_PATTERN)]


class UploadIn(BaseModel):
    """Phase one of an upload: what will come, signed by its author."""

    model_config = ConfigDict(extra="forbid")
    #: chosen by the client; retrying with the same id and manifest is a no-op
    upload_id: str = Field(pattern=ID_PATTERN)
    #: phr.crypto.manifest.SignedRecordManifest as JSON
    signed_manifest: dict[str, Any]
    #: segment name -> its HMAC keyword tags (as many as the manifest's tag_count)
    tags: dict[str, list[Tag]] = Field(default_factory=dict)


class SegmentOut(BaseModel):
    name: str
    key_version: int
    size: int
    sha256: str
    tag_count: int
    resource_count: int

    @classmethod
    def from_doc(cls, doc: Document) -> SegmentOut:
        return cls(**{k: doc[k] for k in cls.model_fields})


class SegmentPut(BaseModel):
    """Send this segment's ciphertext with ``PUT url`` and exactly these headers."""

    url: str
    headers: dict[str, str] = Field(description="signed; S3 checks the body against them")
    expires_at: datetime


class UploadOut(BaseModel):
    upload_id: str
    patient_id: str
    record_id: str
    status: str
    manifest_sha256: str
    segments: list[SegmentOut]
    #: segments whose ciphertext is stored
    stored: list[str]
    #: segments still to send before the commit (as far as owner-api knows: segments
    #: sent to S3 are checked at the commit)
    missing: list[str]
    #: segment -> presigned S3 PUT, for the segments not stored yet
    urls: dict[str, SegmentPut] = Field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Document, urls: dict[str, SegmentPut] | None = None) -> UploadOut:
        segments = [SegmentOut.from_doc(s) for s in doc["segments"]]
        stored = doc.get("stored", {})
        committed = doc["status"] == "committed"
        done = [s.name for s in segments if committed or s.name in stored]
        return cls(
            upload_id=doc["upload_id"],
            patient_id=doc["patient_id"],
            record_id=doc["record_id"],
            status=doc["status"],
            manifest_sha256=doc["manifest_sha256"],
            segments=segments,
            stored=done,
            missing=[s.name for s in segments if s.name not in done],
            urls=urls or {},
        )


class RecordOut(BaseModel):
    """A record's metadata (or a deleted record's tombstone); never any capsule."""

    patient_id: str
    record_id: str
    status: str
    uploaded_by: str
    manifest_sha256: str
    created_at: datetime
    committed_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    segments: list[SegmentOut]

    @classmethod
    def from_doc(cls, doc: Document) -> RecordOut:
        return cls(
            patient_id=doc["patient_id"],
            record_id=doc["record_id"],
            status=doc["status"],
            uploaded_by=doc["uploaded_by"],
            manifest_sha256=doc["manifest_sha256"],
            created_at=doc["created_at"],
            committed_at=doc.get("committed_at"),
            deleted_at=doc.get("deleted_at"),
            deleted_by=doc.get("deleted_by"),
            segments=[SegmentOut.from_doc(s) for s in doc["segments"]],
        )


class RecordDetail(RecordOut):
    """A committed record with its signed manifest (capsules included), to decrypt it."""

    signed_manifest: dict[str, Any]

    @classmethod
    def from_doc(cls, doc: Document) -> RecordDetail:
        base = RecordOut.from_doc(doc).model_dump()
        return cls(**base, signed_manifest=doc["signed_manifest"])


class ContributorOut(BaseModel):
    patient_id: str
    org_id: str
    added_at: datetime

    @classmethod
    def from_doc(cls, doc: Document) -> ContributorOut:
        return cls(patient_id=doc["patient_id"], org_id=doc["org_id"], added_at=doc["added_at"])

"""Mappers of owner-api's record documents to their wire bodies (``phr.api.owner``)."""

from __future__ import annotations

from phr.api.owner import (
    ContributorOut,
    RecordDetail,
    RecordOut,
    SegmentOut,
    SegmentPut,
    UploadOut,
)
from phr.service.mongo import Document


def segment_from_doc(doc: Document) -> SegmentOut:
    return SegmentOut(**{k: doc[k] for k in SegmentOut.model_fields})


def upload_from_doc(doc: Document, urls: dict[str, SegmentPut] | None = None) -> UploadOut:
    segments = [segment_from_doc(s) for s in doc["segments"]]
    stored = doc.get("stored", {})
    committed = doc["status"] == "committed"
    done = [s.name for s in segments if committed or s.name in stored]
    return UploadOut(
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


def record_from_doc(doc: Document) -> RecordOut:
    """A record's metadata (or a deleted record's tombstone); never any capsule."""
    return RecordOut(**_record_fields(doc))


def record_detail_from_doc(doc: Document) -> RecordDetail:
    """A committed record with its signed manifest (capsules included)."""
    return RecordDetail(**_record_fields(doc), signed_manifest=doc["signed_manifest"])


def contributor_from_doc(doc: Document) -> ContributorOut:
    return ContributorOut(
        patient_id=doc["patient_id"], org_id=doc["org_id"], added_at=doc["added_at"]
    )


def _record_fields(doc: Document) -> Document:
    return {
        "patient_id": doc["patient_id"],
        "record_id": doc["record_id"],
        "status": doc["status"],
        "uploaded_by": doc["uploaded_by"],
        "manifest_sha256": doc["manifest_sha256"],
        "created_at": doc["created_at"],
        "committed_at": doc.get("committed_at"),
        "deleted_at": doc.get("deleted_at"),
        "deleted_by": doc.get("deleted_by"),
        "segments": [segment_from_doc(s) for s in doc["segments"]],
    }

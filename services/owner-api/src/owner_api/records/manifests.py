"""Checks of an upload's signed manifest against its caller and the service's limits."""

from __future__ import annotations

from datetime import datetime

from owner_api.errors import ManifestInvalid, UploadMalformed, UploadTooLarge
from owner_api.settings import Settings
from phr.api.ids import ID_PATTERN, is_id
from phr.api.owner import UploadIn
from phr.crypto.manifest import RecordManifest, SegmentEntry, verify_manifest
from phr.crypto.signing import SignatureInvalid, VerifyKey
from phr.events.records import RecordUploaded, SegmentSummary
from phr.fhir.segments import SEGMENTS
from phr.identity.tokens import Principal
from phr.service.mongo import Document


def check_upload(
    caller: Principal, patient_id: str, body: UploadIn, settings: Settings
) -> RecordManifest:
    """The verified manifest of an upload, or the problem that refuses it (nothing stored)."""
    try:
        manifest = verify_manifest(body.signed_manifest)
    except SignatureInvalid as exc:
        raise ManifestInvalid(f"signed manifest rejected: {exc}") from None
    if caller.key_fp is None:
        raise ManifestInvalid("the access token names no signing key")
    if VerifyKey.from_b64(manifest.author).fingerprint() != caller.key_fp:
        raise ManifestInvalid("the manifest is not signed by the caller's enrolled key")
    if manifest.patient_id != patient_id:
        raise ManifestInvalid("the manifest is for another patient")
    if not is_id(manifest.record_id):
        raise ManifestInvalid(f"record id must match {ID_PATTERN}")
    s = settings
    names = [e.name for e in manifest.segments]
    if not names:
        raise ManifestInvalid("a record has at least one segment")
    if len(names) > s.max_segments:
        raise UploadTooLarge(f"{len(names)} segments; at most {s.max_segments} per record")
    if len(set(names)) != len(names):
        raise ManifestInvalid("a segment appears twice in the manifest")
    unknown = sorted(set(names) - set(SEGMENTS))
    if unknown:
        raise ManifestInvalid(f"unknown segments {unknown}; known: {list(SEGMENTS)}")
    total = 0
    for entry in manifest.segments:
        if entry.size > s.max_segment_bytes:
            raise UploadTooLarge(
                f"segment {entry.name}: {entry.size} bytes is over the limit of "
                f"{s.max_segment_bytes} bytes per segment"
            )
        total += entry.size
        tags = body.tags.get(entry.name, [])
        if len(tags) != entry.tag_count:
            raise UploadMalformed(
                f"segment {entry.name}: {len(tags)} tags sent, the manifest signs {entry.tag_count}"
            )
        if len(tags) > s.max_tags_per_segment:
            raise UploadTooLarge(
                f"segment {entry.name}: {len(tags)} tags; at most {s.max_tags_per_segment}"
            )
    if total > s.max_record_bytes:
        raise UploadTooLarge(
            f"record of {total} bytes is over the limit of {s.max_record_bytes} bytes"
        )
    extra = sorted(set(body.tags) - set(names))
    if extra:
        raise UploadMalformed(f"tags for segments not in the manifest: {extra}")
    return manifest


def segment_summary(entry: SegmentEntry) -> Document:
    return {
        "name": entry.name,
        "key_version": entry.key_version,
        "size": entry.size,
        "sha256": entry.sha256,
        "tag_count": entry.tag_count,
        "resource_count": entry.resource_count,
    }


def uploaded_event(
    doc: Document, manifest: RecordManifest, uploaded_at: datetime
) -> RecordUploaded:
    """``record.uploaded`` for a committed record, with each segment's capsule.

    SRS nodes re-encrypt the capsule announced here and pick the key grant by its
    ``key_version``, so that is the version the capsule opens with (``capsule_version``:
    equal to the ciphertext's version at upload, newer after a re-wrap). ``uploaded_at``
    is the commit time, the same in every announcement of the record (``data_from``).
    """
    return RecordUploaded(
        patient_id=doc["patient_id"],
        record_id=doc["record_id"],
        uploaded_by=doc["uploaded_by"],
        uploaded_at=uploaded_at,
        manifest_sha256=doc["manifest_sha256"],
        signed_manifest=doc["signed_manifest"],
        segments=[
            SegmentSummary(
                segment=e.name,
                key_version=e.capsule_version,
                size=e.size,
                sha256=e.sha256,
                capsule=e.capsule,
            )
            for e in manifest.segments
        ],
    )

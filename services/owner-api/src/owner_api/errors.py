"""owner-api's errors (rendered as problem+json by phr.service.problems).

DomainError
├── BadRequest (400)
│   ├── ManifestInvalid           signature, author, patient or segment list unusable
│   ├── UploadMalformed           tags or segment body not as the manifest announced
│   ├── UploadInterrupted         the client went away mid-segment; nothing kept
│   ├── GrantInvalid              unknown segment, bad signed grant, kfrags or window
│   └── DelegationInvalid         segments or sealed keys out of scope
├── Forbidden (403)
│   ├── NotAllowed                neither the patient nor an authorised contributor
│   └── NotDelegated              not the patient, nor his active delegate for the scope
├── NotFound (404)
│   ├── RecordNotFound            no such record (or upload) of this patient
│   ├── SegmentNotFound           the record has no such segment, or its blob is gone
│   ├── GranteeNotFound           no such (active) user or group at the KGC
│   ├── GrantNotFound
│   └── DelegationNotFound
├── Conflict (409)
│   ├── UploadConflict            same upload id or record id with another manifest
│   ├── UploadIncomplete          commit before every segment is stored
│   └── GrantConflict             same grant id with other content; manifest changed
├── RecordGone (410)              the record was deleted; only its tombstone is left
├── PayloadTooLarge (413)
│   └── UploadTooLarge            over a segment, record or segment-count limit
├── SegmentMismatch (422)         stored bytes differ from the signed size/SHA-256
├── SegmentCorrupted (502)        cloud-store found the stored object altered
└── Unavailable (503)
    ├── StorageUnavailable        cloud-store or S3 does not answer
    └── DirectoryUnavailable      the KGC does not answer
"""

from __future__ import annotations

from phr.service.problems import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)


class ManifestInvalid(BadRequest):
    title, slug = "Invalid record manifest", "manifest-invalid"


class UploadMalformed(BadRequest):
    title, slug = "Malformed upload", "upload-malformed"


class UploadInterrupted(BadRequest):
    title, slug = "Upload interrupted", "upload-interrupted"


class NotAllowed(Forbidden):
    title, slug = "Not allowed on this patient's records", "records-forbidden"


class RecordNotFound(NotFound):
    title, slug = "Record not found", "record-not-found"


class SegmentNotFound(NotFound):
    title, slug = "Segment not found", "segment-not-found"


class UploadConflict(Conflict):
    title, slug = "Upload conflict", "upload-conflict"


class UploadIncomplete(Conflict):
    title, slug = "Upload incomplete", "upload-incomplete"


class RecordGone(DomainError):
    status, title, slug = 410, "Record deleted", "record-deleted"


class UploadTooLarge(PayloadTooLarge):
    title, slug = "Upload too large", "upload-too-large"


class SegmentMismatch(DomainError):
    status, title, slug = 422, "Segment does not match its manifest", "segment-mismatch"


class SegmentCorrupted(DomainError):
    status, title, slug = 502, "Stored ciphertext is corrupted", "segment-corrupted"


class StorageUnavailable(Unavailable):
    title, slug = "Ciphertext storage unavailable", "storage-unavailable"


class GrantInvalid(BadRequest):
    title, slug = "Invalid grant", "grant-invalid"


class DelegationInvalid(BadRequest):
    title, slug = "Invalid delegation", "delegation-invalid"


class NotDelegated(Forbidden):
    title, slug = "Not the patient or his delegate", "not-delegated"


class GranteeNotFound(NotFound):
    title, slug = "Grantee not found", "grantee-not-found"


class GrantNotFound(NotFound):
    title, slug = "Grant not found", "grant-not-found"


class DelegationNotFound(NotFound):
    title, slug = "Delegation not found", "delegation-not-found"


class GrantConflict(Conflict):
    title, slug = "Grant conflict", "grant-conflict"


class DirectoryUnavailable(Unavailable):
    title, slug = "KGC directory unavailable", "directory-unavailable"

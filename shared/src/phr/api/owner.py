"""owner-api's bodies: uploads and records, contributors, grants, keys, delegation, emergency.

Signed documents (manifests, grants, published keys) travel as their JSON here: they
are checked by ``phr.crypto`` on whichever side reads them, not by the wire model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from phr.api._base import In, Out
from phr.api.ids import ID_PATTERN, Hex64

# ---------------------------------------------------------------- records


class UploadIn(In):
    """Phase one of an upload: what will come, signed by its author."""

    #: chosen by the client; retrying with the same id and manifest is a no-op
    upload_id: str = Field(pattern=ID_PATTERN)
    #: phr.crypto.manifest.SignedRecordManifest as JSON
    signed_manifest: dict[str, Any]
    #: segment name -> its HMAC keyword tags (as many as the manifest's tag_count)
    tags: dict[str, list[Hex64]] = Field(default_factory=dict)


class SegmentOut(Out):
    name: str
    key_version: int
    size: int
    sha256: str
    tag_count: int
    resource_count: int


class SegmentPut(Out):
    """Send this segment's ciphertext with ``PUT url`` and exactly these headers."""

    url: str
    headers: dict[str, str] = Field(description="signed; S3 checks the body against them")
    expires_at: datetime


class UploadOut(Out):
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


class RecordOut(Out):
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


class RecordDetail(RecordOut):
    """A committed record with its signed manifest (capsules included), to decrypt it."""

    #: phr.crypto.manifest.SignedRecordManifest as JSON
    signed_manifest: dict[str, Any]


class ContributorOut(Out):
    patient_id: str
    org_id: str
    added_at: datetime


# ---------------------------------------------------------------- grants


class KeyGrantIn(In):
    """One segment at one key version: the signed grant and a sealed kfrag per SRS node."""

    segment: str = Field(max_length=64)
    key_version: int = Field(ge=1)
    #: phr.crypto.grants.SignedGrant as JSON
    signed_grant: dict[str, Any]
    #: SRS node id -> base64url sealed kfrag
    sealed_kfrags: dict[str, str] = Field(max_length=64)


class GrantIn(In):
    """A grant to one user (``grantee_user_id``) or one KGC group (``group_id``)."""

    #: chosen by the client; the same id and content again is a no-op
    grant_id: str = Field(pattern=ID_PATTERN)
    grantee_user_id: str | None = Field(default=None, max_length=64)
    group_id: str | None = Field(default=None, max_length=64)
    segments: list[str] = Field(min_length=1, max_length=16)
    not_before: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    #: only records uploaded on or after this time (default: past records too)
    data_from: AwareDatetime | None = None
    purpose: str | None = Field(default=None, max_length=256)
    emergency: bool = False
    threshold: int = Field(ge=1)
    key_grants: list[KeyGrantIn] = Field(min_length=1, max_length=256)


class KeyGrantsIn(In):
    """Key grants for new key versions of an existing grant (after a rotation)."""

    key_grants: list[KeyGrantIn] = Field(min_length=1, max_length=256)


class KeyVersionOut(Out):
    segment: str
    key_version: int


class GrantOut(Out):
    """A grant as listed to the patient: metadata and who acted, never a kfrag."""

    grant_id: str
    patient_id: str
    grantee_user_id: str | None
    grantee_group: dict[str, str] | None
    group_id: str | None
    receiving_pk: str
    segments: list[str]
    not_before: datetime | None
    expires_at: datetime | None
    data_from: datetime | None
    purpose: str | None
    emergency: bool
    threshold: int
    key_versions: list[KeyVersionOut]
    granted_by: str
    on_behalf_of: str | None
    status: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoked_on_behalf_of: str | None = None


# ---------------------------------------------------------------- keys and rotation


class RotateIn(In):
    segments: list[str] = Field(min_length=1, max_length=16)


class RotateOut(Out):
    patient_id: str
    #: segment -> its new current key version
    versions: dict[str, int]


class KeysIn(In):
    #: phr.crypto.published_keys.SignedPatientKeys as JSON
    signed_keys: dict[str, Any]


class KeysOut(Out):
    patient_id: str
    #: segment -> current key version (1 when never rotated)
    versions: dict[str, int]
    #: the patient's signed public keys (None until his SDK published them)
    signed_keys: dict[str, Any] | None


class ManifestIn(In):
    #: the record's manifest with re-wrapped capsules, signed by the patient
    signed_manifest: dict[str, Any]


# ---------------------------------------------------------------- delegation, emergency


class DelegationIn(In):
    segments: list[str] = Field(min_length=1, max_length=16)
    #: segment -> key version -> base64url KeyCapsule of that segment secret key, sealed
    #: to the delegate's Umbral key (phr.crypto.pre.seal_to_key); lets him make kfrags
    sealed_keys: dict[str, dict[str, str]] = Field(default_factory=dict)


class DelegationOut(Out):
    delegation_id: str
    patient_id: str
    delegate_user_id: str
    segments: list[str]
    active: bool
    changed_by: str
    changed_at: datetime


class DelegateKeysOut(Out):
    """What a delegate fetches: his scope and the segment keys sealed to him."""

    patient_id: str
    segments: list[str]
    sealed_keys: dict[str, dict[str, str]]


class EmergencyIn(In):
    segments: list[str] = Field(max_length=16)


class EmergencyOut(Out):
    patient_id: str
    segments: list[str]

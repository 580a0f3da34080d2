"""owner-api's bodies: uploads and records, contributors, grants, keys, delegation, emergency.

Signed documents (manifests, grants, published keys) travel as their JSON here: they
are checked by ``phr.crypto`` on whichever side reads them, not by the wire model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field

from phr.api import examples as ex
from phr.api._base import In, Out
from phr.api.ids import ID_PATTERN, Hex64

# ---------------------------------------------------------------- records

_RECORD: dict[str, Any] = {
    "patient_id": ex.PATIENT,
    "record_id": ex.RECORD,
    "status": "committed",
    "uploaded_by": ex.PATIENT,
    "manifest_sha256": ex.MANIFEST_SHA256,
    "created_at": ex.TIME,
    "committed_at": ex.LATER,
    "deleted_at": None,
    "deleted_by": None,
    "segments": [ex.SEGMENT_OUT],
}


class UploadIn(In):
    """Phase one of an upload: what will come, signed by its author."""

    model_config = ex.examples(
        {
            "upload_id": ex.UPLOAD,
            "signed_manifest": ex.SIGNED_MANIFEST,
            "tags": {ex.SEGMENT: list(ex.TAGS)},
        }
    )

    #: chosen by the client; retrying with the same id and manifest is a no-op
    upload_id: str = Field(pattern=ID_PATTERN)
    #: phr.crypto.manifest.SignedRecordManifest as JSON
    signed_manifest: dict[str, Any]
    #: segment name -> its HMAC keyword tags (as many as the manifest's tag_count)
    tags: dict[str, list[Hex64]] = Field(default_factory=dict)


class SegmentOut(Out):
    model_config = ex.examples(ex.SEGMENT_OUT)
    name: str
    key_version: int
    size: int
    sha256: str
    tag_count: int
    resource_count: int


class SegmentPut(Out):
    """Send this segment's ciphertext with ``PUT url`` and exactly these headers."""

    model_config = ex.examples(
        {
            "url": ex.PUT_URL,
            "headers": {
                "Content-Length": "18355",
                "x-amz-checksum-sha256": "is4f4sLiFS6D3dBc83kftxy96UncbUn3iEXN5zJEIdk=",
            },
            "expires_at": ex.LATER,
        }
    )

    url: str
    headers: dict[str, str] = Field(description="signed; S3 checks the body against them")
    expires_at: datetime


class UploadOut(Out):
    model_config = ex.examples(
        {
            "upload_id": ex.UPLOAD,
            "patient_id": ex.PATIENT,
            "record_id": ex.RECORD,
            "status": "pending",
            "manifest_sha256": ex.MANIFEST_SHA256,
            "segments": [ex.SEGMENT_OUT],
            "stored": [],
            "missing": [ex.SEGMENT],
            "urls": {
                ex.SEGMENT: {
                    "url": ex.PUT_URL,
                    "headers": {
                        "Content-Length": "18355",
                        "x-amz-checksum-sha256": "is4f4sLiFS6D3dBc83kftxy96UncbUn3iEXN5zJEIdk=",
                    },
                    "expires_at": ex.LATER,
                }
            },
        }
    )
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

    model_config = ex.examples(_RECORD)

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

    model_config = ex.examples(_RECORD | {"signed_manifest": ex.SIGNED_MANIFEST})

    #: phr.crypto.manifest.SignedRecordManifest as JSON
    signed_manifest: dict[str, Any]


class ContributorOut(Out):
    model_config = ex.examples({"patient_id": ex.PATIENT, "org_id": ex.ORG, "added_at": ex.TIME})
    patient_id: str
    org_id: str
    added_at: datetime


# ---------------------------------------------------------------- grants

_KEY_GRANT: dict[str, Any] = {
    "segment": ex.SEGMENT,
    "key_version": 1,
    "signed_grant": ex.SIGNED_GRANT,
    "sealed_kfrags": {"srs-1": ex.CFRAG, "srs-2": ex.CFRAG, "srs-3": ex.CFRAG},
}


class KeyGrantIn(In):
    """One segment at one key version: the signed grant and a sealed kfrag per SRS node."""

    model_config = ex.examples(_KEY_GRANT)

    segment: str = Field(max_length=64)
    key_version: int = Field(ge=1)
    #: phr.crypto.grants.SignedGrant as JSON
    signed_grant: dict[str, Any]
    #: SRS node id -> base64url sealed kfrag
    sealed_kfrags: dict[str, str] = Field(max_length=64)


class GrantIn(In):
    """A grant to one user (``grantee_user_id``) or one KGC group (``group_id``)."""

    model_config = ex.examples(
        {
            "grant_id": ex.GRANT,
            "grantee_user_id": ex.DOCTOR,
            "segments": [ex.SEGMENT],
            "expires_at": ex.EXPIRES,
            "purpose": "diabetes follow-up",
            "threshold": 2,
            "key_grants": [_KEY_GRANT],
        }
    )

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

    model_config = ex.examples({"key_grants": [_KEY_GRANT | {"key_version": 2}]})

    key_grants: list[KeyGrantIn] = Field(min_length=1, max_length=256)


class KeyVersionOut(Out):
    model_config = ex.examples({"segment": ex.SEGMENT, "key_version": 1})
    segment: str
    key_version: int


class GrantOut(Out):
    """A grant as listed to the patient: metadata and who acted, never a kfrag."""

    model_config = ex.examples(
        {
            "grant_id": ex.GRANT,
            "patient_id": ex.PATIENT,
            "grantee_user_id": ex.DOCTOR,
            "grantee_group": None,
            "group_id": None,
            "receiving_pk": ex.UMBRAL_PUBLIC,
            "segments": [ex.SEGMENT],
            "not_before": None,
            "expires_at": ex.EXPIRES,
            "data_from": None,
            "purpose": "diabetes follow-up",
            "emergency": False,
            "threshold": 2,
            "key_versions": [{"segment": ex.SEGMENT, "key_version": 1}],
            "granted_by": ex.PATIENT,
            "on_behalf_of": None,
            "status": "active",
            "created_at": ex.TIME,
            "revoked_at": None,
            "revoked_by": None,
            "revoked_on_behalf_of": None,
        }
    )

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
    model_config = ex.examples({"segments": [ex.SEGMENT]})
    segments: list[str] = Field(min_length=1, max_length=16)


class RotateOut(Out):
    model_config = ex.examples({"patient_id": ex.PATIENT, "versions": {ex.SEGMENT: 2}})
    patient_id: str
    #: segment -> its new current key version
    versions: dict[str, int]


class KeysIn(In):
    model_config = ex.examples({"signed_keys": ex.SIGNED_KEYS})
    #: phr.crypto.published_keys.SignedPatientKeys as JSON
    signed_keys: dict[str, Any]


class KeysOut(Out):
    model_config = ex.examples(
        {"patient_id": ex.PATIENT, "versions": {ex.SEGMENT: 1}, "signed_keys": ex.SIGNED_KEYS}
    )
    patient_id: str
    #: segment -> current key version (1 when never rotated)
    versions: dict[str, int]
    #: the patient's signed public keys (None until his SDK published them)
    signed_keys: dict[str, Any] | None


class ManifestIn(In):
    model_config = ex.examples({"signed_manifest": ex.SIGNED_MANIFEST})
    #: the record's manifest with re-wrapped capsules, signed by the patient
    signed_manifest: dict[str, Any]


# ---------------------------------------------------------------- delegation, emergency


class DelegationIn(In):
    model_config = ex.examples(
        {"segments": [ex.SEGMENT], "sealed_keys": {ex.SEGMENT: {"1": ex.CAPSULE}}}
    )
    segments: list[str] = Field(min_length=1, max_length=16)
    #: segment -> key version -> base64url KeyCapsule of that segment secret key, sealed
    #: to the delegate's Umbral key (phr.crypto.pre.seal_to_key); lets him make kfrags
    sealed_keys: dict[str, dict[str, str]] = Field(default_factory=dict)


class DelegationOut(Out):
    model_config = ex.examples(
        {
            "delegation_id": f"{ex.PATIENT}/{ex.DOCTOR}",
            "patient_id": ex.PATIENT,
            "delegate_user_id": ex.DOCTOR,
            "segments": [ex.SEGMENT],
            "active": True,
            "changed_by": ex.PATIENT,
            "changed_at": ex.TIME,
        }
    )
    delegation_id: str
    patient_id: str
    delegate_user_id: str
    segments: list[str]
    active: bool
    changed_by: str
    changed_at: datetime


class DelegateKeysOut(Out):
    """What a delegate fetches: his scope and the segment keys sealed to him."""

    model_config = ex.examples(
        {
            "patient_id": ex.PATIENT,
            "segments": [ex.SEGMENT],
            "sealed_keys": {ex.SEGMENT: {"1": ex.CAPSULE}},
        }
    )

    patient_id: str
    segments: list[str]
    sealed_keys: dict[str, dict[str, str]]


class EmergencyIn(In):
    model_config = ex.examples({"segments": ["conditions", "medications"]})
    segments: list[str] = Field(max_length=16)


class EmergencyOut(Out):
    model_config = ex.examples(
        {"patient_id": ex.PATIENT, "segments": ["conditions", "medications"]}
    )
    patient_id: str
    segments: list[str]

"""Request and response bodies of the grant, key, delegation and emergency routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from phr.api.ids import ID_PATTERN
from phr.service.mongo import Document


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeyGrantIn(_In):
    """One segment at one key version: the signed grant and a sealed kfrag per SRS node."""

    segment: str = Field(max_length=64)
    key_version: int = Field(ge=1)
    #: phr.crypto.grants.SignedGrant as JSON
    signed_grant: dict[str, Any]
    #: SRS node id -> base64url sealed kfrag
    sealed_kfrags: dict[str, str] = Field(max_length=64)


class GrantIn(_In):
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


class KeyGrantsIn(_In):
    """Key grants for new key versions of an existing grant (after a rotation)."""

    key_grants: list[KeyGrantIn] = Field(min_length=1, max_length=256)


class KeyVersionOut(BaseModel):
    segment: str
    key_version: int


class GrantOut(BaseModel):
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

    @classmethod
    def from_doc(cls, doc: Document) -> GrantOut:
        return cls.model_validate({k: doc.get(k) for k in cls.model_fields})


class RotateIn(_In):
    segments: list[str] = Field(min_length=1, max_length=16)


class RotateOut(BaseModel):
    patient_id: str
    #: segment -> its new current key version
    versions: dict[str, int]


class KeysIn(_In):
    #: phr.crypto.published_keys.SignedPatientKeys as JSON
    signed_keys: dict[str, Any]


class KeysOut(BaseModel):
    patient_id: str
    #: segment -> current key version (1 when never rotated)
    versions: dict[str, int]
    #: the patient's signed public keys (None until his SDK published them)
    signed_keys: dict[str, Any] | None


class ManifestIn(_In):
    #: the record's manifest with re-wrapped capsules, signed by the patient
    signed_manifest: dict[str, Any]


class DelegationIn(_In):
    segments: list[str] = Field(min_length=1, max_length=16)
    #: segment -> key version -> base64url KeyCapsule of that segment secret key, sealed
    #: to the delegate's Umbral key (phr.crypto.pre.seal_to_key); lets him make kfrags
    sealed_keys: dict[str, dict[str, str]] = Field(default_factory=dict)


class DelegationOut(BaseModel):
    delegation_id: str
    patient_id: str
    delegate_user_id: str
    segments: list[str]
    active: bool
    changed_by: str
    changed_at: datetime

    @classmethod
    def from_doc(cls, doc: Document) -> DelegationOut:
        return cls.model_validate({k: doc.get(k) for k in cls.model_fields})


class DelegateKeysOut(BaseModel):
    """What a delegate fetches: his scope and the segment keys sealed to him."""

    patient_id: str
    segments: list[str]
    sealed_keys: dict[str, dict[str, str]]


class EmergencyIn(_In):
    segments: list[str] = Field(max_length=16)


class EmergencyOut(BaseModel):
    patient_id: str
    segments: list[str]

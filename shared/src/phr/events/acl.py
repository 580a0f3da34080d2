"""Access-control events: grants, revocations, key rotation, delegation."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from phr.events.base import EventData


class SealedKeyFragment(EventData):
    """One kfrag sealed to one SRS node's X25519 key; opaque to everyone else."""

    node_id: str
    segment: str
    key_version: int = Field(ge=1)
    sealed: str = Field(description="base64url sealed envelope")


class AclGranted(EventData):
    grant_id: str
    patient_id: str
    grantee_user_id: str | None = None
    grantee_group: dict[str, str] | None = Field(
        default=None, description="attribute selector, e.g. {'role': 'doctor', 'org': 'o1'}"
    )
    segments: list[str]
    not_before: datetime | None = None
    expires_at: datetime | None = None
    data_from: datetime | None = Field(
        default=None, description="only records written on or after this time"
    )
    purpose: str | None = None
    threshold: int = Field(ge=1)
    kfrags: list[SealedKeyFragment]
    granted_by: str
    on_behalf_of: str | None = None


class AclRevoked(EventData):
    grant_id: str
    patient_id: str
    revoked_by: str
    on_behalf_of: str | None = None


class KeyRotated(EventData):
    patient_id: str
    segment: str
    new_version: int = Field(ge=2)
    rotated_by: str


class DelegationChanged(EventData):
    delegation_id: str
    patient_id: str
    delegate_user_id: str
    segments: list[str]
    active: bool
    changed_by: str

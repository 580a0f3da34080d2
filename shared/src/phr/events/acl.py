"""Access-control events: grants, revocations, key rotation, delegation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from phr.events.base import EventData


class SegmentKeyGrant(EventData):
    """One segment at one key version: the patient-signed grant document and its kfrags.

    ``signed_grant`` is a :class:`phr.crypto.grants.SignedGrant` as JSON; its
    ``grant.grant_id`` is ``"<grant_id>/<segment>/v<key_version>"`` and it pins each
    sealed kfrag by SHA-256. Each kfrag is sealed to one SRS node's X25519 key, so a
    node can open only its own.
    """

    segment: str
    key_version: int = Field(ge=1)
    signed_grant: dict[str, Any]
    sealed_kfrags: dict[str, str] = Field(description="SRS node id -> base64url sealed kfrag")


class AclGranted(EventData):
    """A grant to one user or to a group (attribute selector), for some segments.

    Sent again with the same ``grant_id`` after a key rotation, carrying key grants
    for the new version; nodes merge key grants by (segment, key_version).
    """

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
        default=None, description="only records uploaded on or after this time"
    )
    purpose: str | None = None
    emergency: bool = Field(
        default=False, description="break-glass grant: usable only with a stated reason"
    )
    threshold: int = Field(ge=1)
    key_grants: list[SegmentKeyGrant]
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

"""What a node keeps: users, delegations, grants, key grants (sealed kfrags), records.

Plain frozen values, no I/O. A :class:`SealedKfrag` hides its bytes from ``repr`` so a
kfrag never reaches a log line by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phr.crypto.signing import b64u_decode, b64u_encode


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a naive time from a producer is taken as UTC (never compared naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SealedKfrag:
    """This node's sealed kfrag of one key grant (opens only here, only for that grant)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: bytes) -> None:
        self._raw = bytes(raw)

    @classmethod
    def from_b64(cls, text: str) -> SealedKfrag:
        return cls(b64u_decode(text))

    def to_bytes(self) -> bytes:
        return self._raw

    def b64(self) -> str:
        return b64u_encode(self._raw)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SealedKfrag) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"SealedKfrag(<{len(self._raw)} bytes>)"

    __str__ = __repr__


@dataclass(frozen=True)
class UserInfo:
    """A user as the KGC announced him: attributes, Ed25519 fingerprint, revocation."""

    user_id: str
    role: str
    ed25519_fp: str
    org: str | None = None
    dept: str | None = None
    revoked: bool = False


@dataclass(frozen=True)
class Delegation:
    """A caregiver or guardian who may manage grants of ``segments`` for the patient."""

    delegation_id: str
    patient_id: str
    delegate_user_id: str
    segments: tuple[str, ...]
    active: bool

    def covers(self, segment: str) -> bool:
        return self.active and segment in self.segments


@dataclass(frozen=True)
class GrantInfo:
    """A grant's metadata (never a kfrag). ``key_versions`` lists the key grants held."""

    grant_id: str
    patient_id: str
    segments: tuple[str, ...]
    threshold: int
    granted_by: str
    grantee_user_id: str | None = None
    grantee_group: dict[str, str] | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    data_from: datetime | None = None
    purpose: str | None = None
    emergency: bool = False
    on_behalf_of: str | None = None
    key_versions: frozenset[tuple[str, int]] = frozenset()
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_json(self) -> dict[str, Any]:
        """Public view for ``GET /v1/grants``: metadata only."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "grant_id": self.grant_id,
            "patient_id": self.patient_id,
            "grantee_user_id": self.grantee_user_id,
            "grantee_group": self.grantee_group,
            "segments": list(self.segments),
            "not_before": iso(self.not_before),
            "expires_at": iso(self.expires_at),
            "data_from": iso(self.data_from),
            "purpose": self.purpose,
            "emergency": self.emergency,
            "threshold": self.threshold,
            "granted_by": self.granted_by,
            "on_behalf_of": self.on_behalf_of,
            "key_versions": [
                {"segment": s, "key_version": v} for s, v in sorted(self.key_versions)
            ],
            "created_at": iso(self.created_at),
            "status": "revoked" if self.revoked else "active",
            "revoked_at": iso(self.revoked_at),
            "revoked_reason": self.revoked_reason,
        }


@dataclass(frozen=True)
class KeyGrant:
    """One segment at one key version of a grant: the signed document and our kfrag."""

    grant_id: str
    patient_id: str
    segment: str
    key_version: int
    signed_grant: dict[str, Any]
    sealed_kfrag: SealedKfrag = field(repr=False)

    @property
    def document_grant_id(self) -> str:
        """The id the kfrag was sealed under (the grant document's own ``grant_id``)."""
        grant_id: str = self.signed_grant["grant"]["grant_id"]
        return grant_id


@dataclass(frozen=True)
class SegmentCapsule:
    segment: str
    key_version: int
    capsule: str  # base64url KeyCapsule: public, opens only through the segment key


@dataclass(frozen=True)
class RecordInfo:
    """What the node needs of a record: its patient, upload time and capsules."""

    record_id: str
    patient_id: str
    segments: tuple[SegmentCapsule, ...]
    uploaded_at: datetime | None = None
    deleted_at: datetime | None = None

    def segment(self, name: str) -> SegmentCapsule | None:
        return next((s for s in self.segments if s.segment == name), None)


@dataclass(frozen=True)
class PendingGrant:
    """A grant event whose author this node cannot check yet (author not enrolled here)."""

    event_id: str
    patient_id: str
    grant_id: str
    data: dict[str, Any]  # AclGranted JSON, holding only this node's sealed kfrag
    received_at: datetime

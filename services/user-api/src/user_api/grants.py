"""Which patients granted the caller which segments: pure rules over grant metadata.

user-api keeps, from ``acl.granted``/``acl.revoked``, the metadata of every grant (never
a kfrag or key). It uses them to *scope* what it does for a caller (which patients a
search may look at, which segments of the matches it may return, which records a
reader can ask for); the SRS nodes still decide every re-encryption themselves.

A grant applies to a caller when it is addressed to him (by user id, or by a group
selector his KGC-signed token matches, staff only, as the SRS decides), is not revoked,
and ``not_before <= now < expires_at``. Emergency grants never scope a search: they
open only with a stated break-glass reason, at the SRS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phr.events.acl import AclGranted
from phr.events.selectors import selector_matches
from phr.identity.roles import STAFF
from phr.identity.tokens import Principal


def as_utc(value: datetime | None) -> datetime | None:
    """Mongo and events may give naive datetimes: they are UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class GrantView:
    """One grant's metadata as user-api keeps it."""

    grant_id: str
    patient_id: str
    segments: frozenset[str]
    grantee_user_id: str | None = None
    grantee_group: Mapping[str, str] | None = None
    not_before: datetime | None = None
    expires_at: datetime | None = None
    data_from: datetime | None = None
    emergency: bool = False
    revoked: bool = False
    purpose: str | None = None
    revoked_at: datetime | None = None

    @classmethod
    def from_event(cls, data: AclGranted) -> GrantView:
        return cls(
            grant_id=data.grant_id,
            patient_id=data.patient_id,
            segments=frozenset(data.segments),
            grantee_user_id=data.grantee_user_id,
            grantee_group=dict(data.grantee_group) if data.grantee_group else None,
            not_before=as_utc(data.not_before),
            expires_at=as_utc(data.expires_at),
            data_from=as_utc(data.data_from),
            emergency=data.emergency,
            purpose=data.purpose,
        )

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> GrantView:
        return cls(
            grant_id=str(doc["grant_id"]),
            patient_id=str(doc.get("patient_id", "")),
            segments=frozenset(doc.get("segments", ())),
            grantee_user_id=doc.get("grantee_user_id"),
            grantee_group=doc.get("grantee_group"),
            not_before=as_utc(doc.get("not_before")),
            expires_at=as_utc(doc.get("expires_at")),
            data_from=as_utc(doc.get("data_from")),
            emergency=bool(doc.get("emergency", False)),
            revoked=bool(doc.get("revoked", False)),
            purpose=doc.get("purpose"),
            revoked_at=as_utc(doc.get("revoked_at")),
        )

    def addressed_to(self, caller: Principal) -> bool:
        """Named by user id, or (staff only) a group selector the token's attributes match."""
        if self.grantee_user_id is not None:
            return self.grantee_user_id == caller.sub
        return caller.role in STAFF and selector_matches(
            self.grantee_group, role=caller.role, org=caller.org, dept=caller.dept
        )

    def active(self, now: datetime) -> bool:
        if self.revoked:
            return False
        if self.not_before is not None and now < self.not_before:
            return False
        return self.expires_at is None or now < self.expires_at

    def status(self, now: datetime) -> str:
        """active | revoked | expired | pending (not yet valid)."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        if self.not_before is not None and now < self.not_before:
            return "pending"
        return "active"

    def covers_record(self, uploaded_at: datetime | None) -> bool:
        """A grant with ``data_from`` covers only records uploaded on or after it."""
        if self.data_from is None:
            return True
        return uploaded_at is not None and uploaded_at >= self.data_from


@dataclass
class Scope:
    """What the caller may look at: patient -> segment -> the grants that give it."""

    grants: dict[str, dict[str, list[GrantView]]] = field(default_factory=dict)

    @property
    def patient_ids(self) -> list[str]:
        return sorted(self.grants)

    def segments(self, patient_id: str) -> set[str]:
        return set(self.grants.get(patient_id, {}))

    def needs_upload_time(self, patient_id: str) -> bool:
        """Whether some segment of this patient is granted only from a date on."""
        return any(
            all(g.data_from is not None for g in grants)
            for grants in self.grants.get(patient_id, {}).values()
        )

    def allows(self, patient_id: str, segment: str, uploaded_at: datetime | None) -> bool:
        grants = self.grants.get(patient_id, {}).get(segment, [])
        return any(g.covers_record(uploaded_at) for g in grants)


def scope_for(
    caller: Principal,
    grants: Iterable[GrantView],
    *,
    now: datetime,
    patient_id: str | None = None,
    include_emergency: bool = False,
) -> Scope:
    """The grants usable by ``caller`` now, by patient and segment."""
    scope = Scope()
    for grant in grants:
        if patient_id is not None and grant.patient_id != patient_id:
            continue
        if grant.emergency and not include_emergency:
            continue
        if not grant.addressed_to(caller) or not grant.active(now):
            continue
        by_segment = scope.grants.setdefault(grant.patient_id, {})
        for segment in grant.segments:
            by_segment.setdefault(segment, []).append(grant)
    return scope

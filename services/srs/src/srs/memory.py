"""An in-memory :class:`srs.store.Store` for tests and experiments (sessions are ignored)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from srs.models import Delegation, GrantInfo, KeyGrant, PendingGrant, RecordInfo, UserInfo
from srs.store import IdKind, Session, Store

#: (patient, id): client-chosen ids are scoped by their patient, as in the Mongo store
Scoped = tuple[str, str]


class MemoryStore:
    def __init__(self) -> None:
        self.users: dict[str, UserInfo] = {}
        self.delegations_: dict[Scoped, Delegation] = {}
        self.grants: dict[Scoped, GrantInfo] = {}
        self.key_grants: dict[tuple[str, str, str, int], KeyGrant] = {}
        self.pending: dict[str, PendingGrant] = {}
        self.records: dict[Scoped, RecordInfo] = {}
        self.rejected: dict[str, tuple[str, str, datetime]] = {}
        self.breakglass: dict[str, datetime] = {}
        self.versions: dict[tuple[str, str], int] = {}

    async def get_user(self, user_id: str, session: Session | None = None) -> UserInfo | None:
        return self.users.get(user_id)

    async def put_user(self, user: UserInfo, session: Session | None = None) -> None:
        old = self.users.get(user.user_id)
        self.users[user.user_id] = dataclasses.replace(
            user, revoked=old.revoked if old else user.revoked
        )

    async def revoke_user(self, user_id: str, session: Session | None = None) -> None:
        old = self.users.get(user_id) or UserInfo(user_id=user_id, role="", ed25519_fp="")
        self.users[user_id] = dataclasses.replace(old, revoked=True)

    async def put_delegation(self, d: Delegation, session: Session | None = None) -> None:
        self.delegations_[(d.patient_id, d.delegation_id)] = d

    async def delegations(
        self, patient_id: str, session: Session | None = None
    ) -> list[Delegation]:
        return [d for d in self.delegations_.values() if d.patient_id == patient_id]

    async def patients_delegating_to(
        self, user_id: str, session: Session | None = None
    ) -> list[str]:
        # active only, as the Mongo store: an ended delegation gives no more reach
        return sorted(
            {
                d.patient_id
                for d in self.delegations_.values()
                if d.delegate_user_id == user_id and d.active
            }
        )

    def grant(self, grant_id: str) -> GrantInfo:
        """The one grant of that id, whoever's (tests use one patient per id)."""
        (found,) = [g for (_, gid), g in self.grants.items() if gid == grant_id]
        return found

    def has_grant(self, grant_id: str) -> bool:
        return any(gid == grant_id for _, gid in self.grants)

    async def get_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> GrantInfo | None:
        return self.grants.get((patient_id, grant_id))

    async def put_grant(
        self, grant: GrantInfo, key_grants: Iterable[KeyGrant], session: Session | None = None
    ) -> None:
        self.grants[(grant.patient_id, grant.grant_id)] = grant
        for kg in key_grants:
            if kg.patient_id != grant.patient_id or kg.grant_id != grant.grant_id:
                raise ValueError("a key grant of another grant")
            self.key_grants[(kg.patient_id, kg.grant_id, kg.segment, kg.key_version)] = kg

    async def revoke_grant(
        self,
        patient_id: str,
        grant_id: str,
        *,
        at: datetime,
        reason: str,
        segments: tuple[str, ...] = (),
        session: Session | None = None,
    ) -> int:
        doomed = [k for k in self.key_grants if k[:2] == (patient_id, grant_id)]
        for k in doomed:
            del self.key_grants[k]
        old = self.grants.get((patient_id, grant_id))
        if old is None:
            self.grants[(patient_id, grant_id)] = GrantInfo(
                grant_id=grant_id,
                patient_id=patient_id,
                segments=segments,
                threshold=1,
                granted_by="",
                revoked_at=at,
                revoked_reason=reason,
            )
        elif not old.revoked:
            self.grants[(patient_id, grant_id)] = dataclasses.replace(
                old, revoked_at=at, revoked_reason=reason, key_versions=frozenset()
            )
        await self.drop_pending_of_grant(patient_id, grant_id)
        return len(doomed)

    async def grants_to_user(self, user_id: str, session: Session | None = None) -> list[GrantInfo]:
        return [
            g
            for _, g in sorted(self.grants.items())
            if g.grantee_user_id == user_id and not g.revoked
        ]

    async def grants_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[GrantInfo]:
        return sorted(
            (g for g in self.grants.values() if g.patient_id == patient_id),
            key=lambda g: g.grant_id,
        )

    async def key_grant(
        self, patient_id: str, grant_id: str, segment: str, key_version: int
    ) -> KeyGrant | None:
        return self.key_grants.get((patient_id, grant_id, segment, key_version))

    async def count_key_grants(self, patient_id: str, grant_id: str) -> int:
        return sum(1 for k in self.key_grants if k[:2] == (patient_id, grant_id))

    async def owned_by_another(
        self, kind: IdKind, object_id: str, patient_id: str, session: Session | None = None
    ) -> bool:
        keys = self.grants if kind == "grant" else self.records
        return any(oid == object_id and pid != patient_id for pid, oid in keys)

    async def add_pending(self, pending: PendingGrant, session: Session | None = None) -> None:
        self.pending[pending.event_id] = pending

    async def pending_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[PendingGrant]:
        return sorted(
            (p for p in self.pending.values() if p.patient_id == patient_id),
            key=lambda p: (p.received_at, p.event_id),
        )

    async def drop_pending(self, event_id: str, session: Session | None = None) -> None:
        self.pending.pop(event_id, None)

    async def drop_pending_of_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> None:
        doomed = (patient_id, grant_id)
        for k in [k for k, p in self.pending.items() if (p.patient_id, p.grant_id) == doomed]:
            del self.pending[k]

    async def set_key_version(
        self, patient_id: str, segment: str, version: int, session: Session | None = None
    ) -> None:
        key = (patient_id, segment)
        self.versions[key] = max(version, self.versions.get(key, 0))

    async def key_versions(self, patient_id: str) -> dict[str, int]:
        return {s: v for (p, s), v in self.versions.items() if p == patient_id}

    async def put_record(self, record: RecordInfo, session: Session | None = None) -> None:
        key = (record.patient_id, record.record_id)
        old = self.records.get(key)
        deleted_at = old.deleted_at if old else None
        self.records[key] = dataclasses.replace(record, deleted_at=deleted_at)

    async def delete_record(
        self, patient_id: str, record_id: str, at: datetime, session: Session | None = None
    ) -> None:
        key = (patient_id, record_id)
        old = self.records.get(key) or RecordInfo(record_id, patient_id, ())
        self.records[key] = dataclasses.replace(old, deleted_at=at)

    async def get_record(self, patient_id: str, record_id: str) -> RecordInfo | None:
        return self.records.get((patient_id, record_id))

    async def record_rejection(
        self,
        event_id: str,
        event_type: str,
        reason: str,
        at: datetime,
        session: Session | None = None,
    ) -> None:
        self.rejected[event_id] = (event_type, reason, at)

    async def count_rejections(self) -> int:
        return len(self.rejected)

    async def breakglass_opened_at(self, requester_id: str, patient_id: str) -> datetime | None:
        return self.breakglass.get(f"{requester_id}|{patient_id}")

    async def open_breakglass(
        self, requester_id: str, patient_id: str, at: datetime, reason: str
    ) -> None:
        self.breakglass[f"{requester_id}|{patient_id}"] = at


def _conforms(store: MemoryStore) -> Store:
    return store  # mypy checks that MemoryStore implements the Store protocol

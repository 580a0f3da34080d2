"""An in-memory :class:`srs.store.Store` for tests and experiments (sessions are ignored)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime

from srs.models import Delegation, GrantInfo, KeyGrant, PendingGrant, RecordInfo, UserInfo
from srs.store import Session, Store, key_grant_id


class MemoryStore:
    def __init__(self) -> None:
        self.users: dict[str, UserInfo] = {}
        self.delegations_: dict[str, Delegation] = {}
        self.grants: dict[str, GrantInfo] = {}
        self.key_grants: dict[str, KeyGrant] = {}
        self.pending: dict[str, PendingGrant] = {}
        self.records: dict[str, RecordInfo] = {}
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
        self.delegations_[d.delegation_id] = d

    async def delegations(
        self, patient_id: str, session: Session | None = None
    ) -> list[Delegation]:
        return [d for d in self.delegations_.values() if d.patient_id == patient_id]

    async def patients_delegating_to(
        self, user_id: str, session: Session | None = None
    ) -> list[str]:
        return sorted(
            {d.patient_id for d in self.delegations_.values() if d.delegate_user_id == user_id}
        )

    async def get_grant(self, grant_id: str, session: Session | None = None) -> GrantInfo | None:
        return self.grants.get(grant_id)

    async def put_grant(
        self, grant: GrantInfo, key_grants: Iterable[KeyGrant], session: Session | None = None
    ) -> None:
        self.grants[grant.grant_id] = grant
        for kg in key_grants:
            self.key_grants[key_grant_id(kg.grant_id, kg.segment, kg.key_version)] = kg

    async def revoke_grant(
        self,
        grant_id: str,
        *,
        patient_id: str,
        at: datetime,
        reason: str,
        segments: tuple[str, ...] = (),
        session: Session | None = None,
    ) -> int:
        doomed = [k for k, kg in self.key_grants.items() if kg.grant_id == grant_id]
        for k in doomed:
            del self.key_grants[k]
        old = self.grants.get(grant_id)
        if old is None:
            self.grants[grant_id] = GrantInfo(
                grant_id=grant_id,
                patient_id=patient_id,
                segments=segments,
                threshold=1,
                granted_by="",
                revoked_at=at,
                revoked_reason=reason,
            )
        elif not old.revoked:
            self.grants[grant_id] = dataclasses.replace(
                old, revoked_at=at, revoked_reason=reason, key_versions=frozenset()
            )
        await self.drop_pending_of_grant(grant_id)
        return len(doomed)

    async def grant_ids_to_user(self, user_id: str, session: Session | None = None) -> list[str]:
        return [
            g.grant_id
            for g in self.grants.values()
            if g.grantee_user_id == user_id and not g.revoked
        ]

    async def grants_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[GrantInfo]:
        return sorted(
            (g for g in self.grants.values() if g.patient_id == patient_id),
            key=lambda g: g.grant_id,
        )

    async def key_grant(self, grant_id: str, segment: str, key_version: int) -> KeyGrant | None:
        return self.key_grants.get(key_grant_id(grant_id, segment, key_version))

    async def count_key_grants(self, grant_id: str) -> int:
        return sum(1 for kg in self.key_grants.values() if kg.grant_id == grant_id)

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

    async def drop_pending_of_grant(self, grant_id: str, session: Session | None = None) -> None:
        for k in [k for k, p in self.pending.items() if p.grant_id == grant_id]:
            del self.pending[k]

    async def set_key_version(
        self, patient_id: str, segment: str, version: int, session: Session | None = None
    ) -> None:
        key = (patient_id, segment)
        self.versions[key] = max(version, self.versions.get(key, 0))

    async def key_versions(self, patient_id: str) -> dict[str, int]:
        return {s: v for (p, s), v in self.versions.items() if p == patient_id}

    async def put_record(self, record: RecordInfo, session: Session | None = None) -> None:
        old = self.records.get(record.record_id)
        deleted_at = old.deleted_at if old else None
        self.records[record.record_id] = dataclasses.replace(record, deleted_at=deleted_at)

    async def delete_record(
        self, record_id: str, patient_id: str, at: datetime, session: Session | None = None
    ) -> None:
        old = self.records.get(record_id) or RecordInfo(record_id, patient_id, ())
        self.records[record_id] = dataclasses.replace(old, deleted_at=at)

    async def get_record(self, record_id: str) -> RecordInfo | None:
        return self.records.get(record_id)

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

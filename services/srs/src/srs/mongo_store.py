"""One node's store on MongoDB; the only SRS module that does Mongo I/O.

The contract and the collections are in :mod:`srs.store`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from srs.documents import (
    delegation_of,
    grant_doc,
    grant_of,
    key_grant_of,
    pending_of,
    record_of,
    user_doc,
    user_of,
)
from srs.models import Delegation, GrantInfo, KeyGrant, PendingGrant, RecordInfo, UserInfo
from srs.store import IdKind, Session, Store, grant_key, key_grant_key, record_key

Document = dict[str, Any]


# ---------------------------------------------------------------- Mongo


class MongoStore:
    """:class:`Store` over this node's database."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.users = db["users"]
        self.delegations_ = db["delegations"]
        self.grants = db["grants"]
        self.key_grants = db["key_grants"]
        self.pending = db["pending_grants"]
        self.records = db["records"]
        self.rejected = db["rejected_events"]
        self.breakglass = db["breakglass_windows"]
        self.versions = db["key_versions"]

    async def ensure_indexes(self) -> None:
        """Create collections up front: a transaction cannot create one on some servers."""
        existing = set(await self.db.list_collection_names())
        for coll in (
            self.users,
            self.delegations_,
            self.grants,
            self.key_grants,
            self.pending,
            self.records,
            self.rejected,
            self.breakglass,
            self.versions,
        ):
            if coll.name not in existing:
                await self.db.create_collection(coll.name)
        await self.grants.create_index(
            [("patient_id", ASCENDING), ("grant_id", ASCENDING)], unique=True
        )
        await self.grants.create_index([("grant_id", ASCENDING)])
        await self.grants.create_index([("grantee_user_id", ASCENDING)])
        await self.key_grants.create_index([("patient_id", ASCENDING), ("grant_id", ASCENDING)])
        await self.records.create_index(
            [("patient_id", ASCENDING), ("record_id", ASCENDING)], unique=True
        )
        await self.records.create_index([("record_id", ASCENDING)])
        await self.delegations_.create_index(
            [("patient_id", ASCENDING), ("delegation_id", ASCENDING)], unique=True
        )
        await self.delegations_.create_index([("delegate_user_id", ASCENDING)])
        await self.pending.create_index([("patient_id", ASCENDING), ("received_at", ASCENDING)])
        await self.pending.create_index([("grant_id", ASCENDING)])

    # users

    async def get_user(self, user_id: str, session: Session | None = None) -> UserInfo | None:
        doc = await self.users.find_one({"_id": user_id}, session=session)
        return user_of(doc) if doc else None

    async def put_user(self, user: UserInfo, session: Session | None = None) -> None:
        # A revocation is final: a re-enrolment event never clears it.
        await self.users.update_one(
            {"_id": user.user_id},
            {"$set": user_doc(user), "$setOnInsert": {"revoked": user.revoked}},
            upsert=True,
            session=session,
        )

    async def revoke_user(self, user_id: str, session: Session | None = None) -> None:
        await self.users.update_one(
            {"_id": user_id}, {"$set": {"revoked": True}}, upsert=True, session=session
        )

    # delegations

    async def put_delegation(self, d: Delegation, session: Session | None = None) -> None:
        await self.delegations_.replace_one(
            {"_id": {"p": d.patient_id, "d": d.delegation_id}},
            {
                "delegation_id": d.delegation_id,
                "patient_id": d.patient_id,
                "delegate_user_id": d.delegate_user_id,
                "segments": list(d.segments),
                "active": d.active,
            },
            upsert=True,
            session=session,
        )

    async def delegations(
        self, patient_id: str, session: Session | None = None
    ) -> list[Delegation]:
        cursor = self.delegations_.find({"patient_id": patient_id}, session=session)
        return [delegation_of(d) async for d in cursor]

    async def patients_delegating_to(
        self, user_id: str, session: Session | None = None
    ) -> list[str]:
        cursor = self.delegations_.find(
            {"delegate_user_id": user_id, "active": True}, {"patient_id": 1}, session=session
        )
        return sorted({str(d["patient_id"]) async for d in cursor})

    # grants

    async def get_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> GrantInfo | None:
        doc = await self.grants.find_one({"_id": grant_key(patient_id, grant_id)}, session=session)
        return grant_of(doc) if doc else None

    async def put_grant(
        self, grant: GrantInfo, key_grants: Iterable[KeyGrant], session: Session | None = None
    ) -> None:
        await self.grants.replace_one(
            {"_id": grant_key(grant.patient_id, grant.grant_id)},
            grant_doc(grant),
            upsert=True,
            session=session,
        )
        for kg in key_grants:
            if kg.patient_id != grant.patient_id or kg.grant_id != grant.grant_id:
                raise ValueError("a key grant of another grant")
            await self.key_grants.replace_one(
                {"_id": key_grant_key(kg.patient_id, kg.grant_id, kg.segment, kg.key_version)},
                {
                    "grant_id": kg.grant_id,
                    "patient_id": kg.patient_id,
                    "segment": kg.segment,
                    "key_version": kg.key_version,
                    "signed_grant": kg.signed_grant,
                    "sealed_kfrag": kg.sealed_kfrag.to_bytes(),
                },
                upsert=True,
                session=session,
            )

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
        key = grant_key(patient_id, grant_id)
        deleted = await self.key_grants.delete_many(
            {"patient_id": patient_id, "grant_id": grant_id}, session=session
        )
        existing = await self.grants.find_one({"_id": key}, {"revoked_at": 1}, session=session)
        if existing is None:
            # Unknown here (never arrived, or still pending): keep a tombstone, so a late
            # copy of the grant event cannot bring it back.
            tombstone = GrantInfo(
                grant_id=grant_id,
                patient_id=patient_id,
                segments=segments,
                threshold=1,
                granted_by="",
                revoked_at=at,
                revoked_reason=reason,
            )
            await self.grants.insert_one({"_id": key, **grant_doc(tombstone)}, session=session)
        elif existing.get("revoked_at") is None:
            await self.grants.update_one(
                {"_id": key},
                {"$set": {"revoked_at": at, "revoked_reason": reason, "key_versions": []}},
                session=session,
            )
        await self.drop_pending_of_grant(patient_id, grant_id, session)
        return deleted.deleted_count

    async def grants_to_user(self, user_id: str, session: Session | None = None) -> list[GrantInfo]:
        cursor = self.grants.find(
            {"grantee_user_id": user_id, "revoked_at": None}, session=session
        ).sort([("patient_id", 1), ("grant_id", 1)])
        return [grant_of(d) async for d in cursor]

    async def grants_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[GrantInfo]:
        cursor = self.grants.find({"patient_id": patient_id}, session=session).sort("grant_id", 1)
        return [grant_of(d) async for d in cursor]

    async def key_grant(
        self, patient_id: str, grant_id: str, segment: str, key_version: int
    ) -> KeyGrant | None:
        doc = await self.key_grants.find_one(
            {"_id": key_grant_key(patient_id, grant_id, segment, key_version)}
        )
        return key_grant_of(doc) if doc else None

    async def count_key_grants(self, patient_id: str, grant_id: str) -> int:
        return await self.key_grants.count_documents(
            {"patient_id": patient_id, "grant_id": grant_id}
        )

    async def owned_by_another(
        self, kind: IdKind, object_id: str, patient_id: str, session: Session | None = None
    ) -> bool:
        coll, field = (self.grants, "grant_id") if kind == "grant" else (self.records, "record_id")
        found = await coll.find_one(
            {field: object_id, "patient_id": {"$ne": patient_id}}, {"_id": 1}, session=session
        )
        return found is not None

    # pending grants

    async def add_pending(self, pending: PendingGrant, session: Session | None = None) -> None:
        await self.pending.replace_one(
            {"_id": pending.event_id},
            {
                "patient_id": pending.patient_id,
                "grant_id": pending.grant_id,
                "data": pending.data,
                "received_at": pending.received_at,
            },
            upsert=True,
            session=session,
        )

    async def pending_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[PendingGrant]:
        cursor = self.pending.find({"patient_id": patient_id}, session=session).sort(
            [("received_at", 1), ("_id", 1)]
        )
        return [pending_of(d) async for d in cursor]

    async def drop_pending(self, event_id: str, session: Session | None = None) -> None:
        await self.pending.delete_one({"_id": event_id}, session=session)

    async def drop_pending_of_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> None:
        await self.pending.delete_many(
            {"patient_id": patient_id, "grant_id": grant_id}, session=session
        )

    # key versions (from key.rotated)

    async def set_key_version(
        self, patient_id: str, segment: str, version: int, session: Session | None = None
    ) -> None:
        # max: a redelivered older rotation never moves the version back
        await self.versions.update_one(
            {"_id": f"{patient_id}|{segment}"},
            {"$max": {"version": version}, "$set": {"patient_id": patient_id, "segment": segment}},
            upsert=True,
            session=session,
        )

    async def key_versions(self, patient_id: str) -> dict[str, int]:
        cursor = self.versions.find({"patient_id": patient_id})
        return {str(d["segment"]): int(d["version"]) async for d in cursor}

    # records

    async def put_record(self, record: RecordInfo, session: Session | None = None) -> None:
        await self.records.update_one(
            {"_id": record_key(record.patient_id, record.record_id)},
            {
                "$set": {
                    "record_id": record.record_id,
                    "patient_id": record.patient_id,
                    "uploaded_at": record.uploaded_at,
                    "segments": [
                        {"segment": s.segment, "key_version": s.key_version, "capsule": s.capsule}
                        for s in record.segments
                    ],
                },
                "$setOnInsert": {"deleted_at": None},
            },
            upsert=True,
            session=session,
        )

    async def delete_record(
        self, patient_id: str, record_id: str, at: datetime, session: Session | None = None
    ) -> None:
        await self.records.update_one(
            {"_id": record_key(patient_id, record_id)},
            {
                "$set": {"deleted_at": at},
                "$setOnInsert": {
                    "record_id": record_id,
                    "patient_id": patient_id,
                    "segments": [],
                    "uploaded_at": None,
                },
            },
            upsert=True,
            session=session,
        )

    async def get_record(self, patient_id: str, record_id: str) -> RecordInfo | None:
        doc = await self.records.find_one({"_id": record_key(patient_id, record_id)})
        return record_of(doc) if doc else None

    # rejected grant events

    async def record_rejection(
        self,
        event_id: str,
        event_type: str,
        reason: str,
        at: datetime,
        session: Session | None = None,
    ) -> None:
        await self.rejected.replace_one(
            {"_id": event_id},
            {"type": event_type, "reason": reason, "at": at},
            upsert=True,
            session=session,
        )

    async def count_rejections(self) -> int:
        return await self.rejected.count_documents({})

    # break-glass windows

    async def breakglass_opened_at(self, requester_id: str, patient_id: str) -> datetime | None:
        doc = await self.breakglass.find_one({"_id": f"{requester_id}|{patient_id}"})
        return doc["opened_at"] if doc else None

    async def open_breakglass(
        self, requester_id: str, patient_id: str, at: datetime, reason: str
    ) -> None:
        await self.breakglass.replace_one(
            {"_id": f"{requester_id}|{patient_id}"},
            {
                "requester_id": requester_id,
                "patient_id": patient_id,
                "opened_at": at,
                "reason": reason,
            },
            upsert=True,
        )


def _conforms(store: MongoStore) -> Store:
    return store  # mypy checks that MongoStore implements the Store protocol

"""owner-api's stores on MongoDB; the only owner-api module that imports pymongo.

The contract, collections and fields are in :mod:`owner_api.store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from owner_api.store import (
    SLIM_LEAVES_OUT,
    STALE_FIELDS,
    AclStore,
    Duplicate,
    RecordStore,
    owned_key,
    record_key,
)
from phr.service.mongo import Document
from phr.service.outbox import OUTBOX

RECORDS: Final = "records"
CONTRIBUTORS: Final = "contributors"
GRANTS: Final = "grants"
PATIENTS: Final = "patients"
DELEGATIONS: Final = "delegations"
#: an upload without its bulk: what storing a segment reads and answers with
SLIM_UPLOAD: Final = dict.fromkeys(SLIM_LEAVES_OUT, False)


async def insert_events(
    outbox: AsyncCollection[Document], docs: Sequence[Document], session: AsyncClientSession
) -> None:
    """Insert outbox documents one at a time, so that a taken id is a
    :class:`DuplicateKeyError` (``insert_many`` raises a ``BulkWriteError`` instead, which
    the callers would not recognise as a retry: a 500)."""
    for doc in docs:
        await outbox.insert_one(doc, session=session)


async def _atomically(
    db: AsyncDatabase[Document], fn: Callable[[AsyncClientSession], Awaitable[bool]]
) -> bool:
    """Run ``fn`` in one transaction; a taken unique key (an outbox id: the change was
    announced before) aborts it: False, nothing written."""
    async with db.client.start_session() as session:
        try:
            return await session.with_transaction(fn)
        except DuplicateKeyError:
            return False


def _committed_as(patient_id: str, record_id: str, sha256: str) -> Document:
    """The committed record, only while its manifest is still ``sha256``."""
    key = record_key(patient_id, record_id)
    return {"_id": key, "status": "committed", "manifest_sha256": sha256}


class MongoRecordStore:
    """Records and contributors; the contract is :class:`owner_api.store.RecordStore`."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.records = db[RECORDS]
        self.outbox = db[OUTBOX]
        self.contributors = db[CONTRIBUTORS]

    async def ensure_indexes(self) -> None:
        await self.records.create_index(
            [("patient_id", ASCENDING), ("upload_id", ASCENDING)], unique=True
        )
        await self.records.create_index([("patient_id", ASCENDING), ("created_at", DESCENDING)])
        await self.records.create_index([("status", ASCENDING), ("touched_at", ASCENDING)])
        await self.contributors.create_index([("patient_id", ASCENDING)])

    # ---------------------------------------------------------------- records

    async def replace_manifest(
        self,
        patient_id: str,
        record_id: str,
        expected_sha256: str,
        update: Document,
        outbox_doc: Document,
    ) -> bool:
        async def txn(session: AsyncClientSession) -> bool:
            result = await self.records.update_one(
                _committed_as(patient_id, record_id, expected_sha256),
                {"$set": update},
                session=session,
            )
            if result.matched_count != 1:
                return False
            await self.outbox.insert_one(outbox_doc, session=session)
            return True

        return await _atomically(self.db, txn)

    # ---------------------------------------------------------------- rebuilt from events

    async def restore(self, doc: Document) -> bool:
        try:
            await self.records.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def restore_manifest(
        self, patient_id: str, record_id: str, expected_sha256: str, update: Document
    ) -> bool:
        result = await self.records.update_one(
            _committed_as(patient_id, record_id, expected_sha256),
            {"$set": update},
        )
        return result.modified_count == 1

    async def restore_tombstone(self, patient_id: str, record_id: str, tombstone: Document) -> bool:
        result = await self.records.replace_one(
            {"_id": record_key(patient_id, record_id), "status": "committed"}, tombstone
        )
        return result.modified_count == 1

    async def insert_pending(self, doc: Document) -> None:
        try:
            await self.records.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Duplicate(str(exc.details or "")) from None

    async def get(self, patient_id: str, record_id: str) -> Document | None:
        return await self.records.find_one({"_id": record_key(patient_id, record_id)})

    async def by_upload(
        self, patient_id: str, upload_id: str, *, slim: bool = False
    ) -> Document | None:
        return await self.records.find_one(
            {"patient_id": patient_id, "upload_id": upload_id},
            SLIM_UPLOAD if slim else None,
        )

    async def touch(self, patient_id: str, record_id: str) -> bool:
        result = await self.records.update_one(
            {"_id": record_key(patient_id, record_id), "status": "pending"},
            {"$set": {"touched_at": datetime.now(UTC)}},
        )
        return result.matched_count == 1

    async def mark_stored(
        self, patient_id: str, record_id: str, segments: dict[str, tuple[int, str]]
    ) -> Document | None:
        now = datetime.now(UTC)
        stored = {
            f"stored.{name}": {"size": size, "sha256": sha256, "at": now}
            for name, (size, sha256) in segments.items()
        }
        return await self.records.find_one_and_update(
            {"_id": record_key(patient_id, record_id), "status": "pending"},
            {"$set": stored | {"touched_at": now}},
            projection=SLIM_UPLOAD,
            return_document=ReturnDocument.AFTER,
        )

    async def commit(
        self, patient_id: str, record_id: str, outbox_doc: Document, at: datetime | None = None
    ) -> bool:
        async def txn(session: AsyncClientSession) -> bool:
            now = at or datetime.now(UTC)
            result = await self.records.update_one(
                {"_id": record_key(patient_id, record_id), "status": "pending"},
                {
                    "$set": {"status": "committed", "committed_at": now, "touched_at": now},
                    # The index in cloud-store now holds the tags; keep no second copy.
                    "$unset": {"tags": ""},
                },
                session=session,
            )
            if result.matched_count != 1:
                return False
            await self.outbox.insert_one(outbox_doc, session=session)
            return True

        return await _atomically(self.db, txn)

    async def start_delete(self, patient_id: str, record_id: str, by: str) -> Document | None:
        now = datetime.now(UTC)
        await self.records.update_one(
            {"_id": record_key(patient_id, record_id), "status": "committed"},
            {"$set": {"status": "deleting", "deleted_by": by, "touched_at": now}},
        )
        return await self.get(patient_id, record_id)

    async def tombstone(
        self, patient_id: str, record_id: str, tombstone: Document, outbox_doc: Document
    ) -> bool:
        async def txn(session: AsyncClientSession) -> bool:
            key = record_key(patient_id, record_id)
            result = await self.records.replace_one(
                {"_id": key, "status": "deleting"}, tombstone, session=session
            )
            if result.matched_count != 1:
                return False
            await self.outbox.insert_one(outbox_doc, session=session)
            return True

        return await _atomically(self.db, txn)

    async def claim_abandoned(
        self, patient_id: str, record_id: str, touched_at: datetime | None
    ) -> bool:
        query: Document = {"_id": record_key(patient_id, record_id), "status": "pending"}
        if touched_at is not None:
            query["touched_at"] = touched_at
        result = await self.records.update_one(query, {"$set": {"status": "abandoned"}})
        return result.matched_count == 1

    async def remove_abandoned(self, patient_id: str, record_id: str) -> bool:
        result = await self.records.delete_one(
            {"_id": record_key(patient_id, record_id), "status": "abandoned"}
        )
        return result.deleted_count == 1

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Document]:
        stale = {"status": "pending", "touched_at": {"$lt": before}}
        cursor = self.records.find(
            {"$or": [stale, {"status": "abandoned"}]}, dict.fromkeys(STALE_FIELDS, 1)
        ).limit(limit)
        return [d async for d in cursor]

    async def list_records(
        self, patient_id: str, *, include_deleted: bool, limit: int
    ) -> list[Document]:
        statuses = ["committed", "deleted"] if include_deleted else ["committed"]
        cursor = (
            self.records.find(
                {"patient_id": patient_id, "status": {"$in": statuses}},
                SLIM_UPLOAD,
            )
            .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [d async for d in cursor]

    # ---------------------------------------------------------------- contributors

    async def add_contributor(self, patient_id: str, org_id: str) -> Document:
        doc: Document = {"patient_id": patient_id, "org_id": org_id, "added_at": datetime.now(UTC)}
        await self.contributors.update_one(
            {"_id": owned_key(patient_id, org_id)}, {"$setOnInsert": doc}, upsert=True
        )
        found = await self.contributors.find_one({"_id": owned_key(patient_id, org_id)})
        return found or doc

    async def remove_contributor(self, patient_id: str, org_id: str) -> bool:
        result = await self.contributors.delete_one({"_id": owned_key(patient_id, org_id)})
        return result.deleted_count == 1

    async def contributors_of(self, patient_id: str) -> list[Document]:
        cursor = self.contributors.find({"patient_id": patient_id}).sort("org_id", ASCENDING)
        return [d async for d in cursor]

    async def is_contributor(self, patient_id: str, org_id: str) -> bool:
        return await self.contributors.find_one({"_id": owned_key(patient_id, org_id)}) is not None


class MongoAclStore:
    """A duplicate outbox id means the change was made already (a retry): False."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.grants = db[GRANTS]
        self.patients = db[PATIENTS]
        self.delegations = db[DELEGATIONS]
        self.outbox = db[OUTBOX]

    async def ensure_indexes(self) -> None:
        await self.grants.create_index([("patient_id", ASCENDING), ("created_at", ASCENDING)])
        await self.delegations.create_index([("patient_id", ASCENDING)])
        await self.delegations.create_index([("delegate_user_id", ASCENDING)])

    async def _with_events(
        self, change: Callable[[AsyncClientSession], Awaitable[bool]], events: list[Document]
    ) -> bool:
        """Run ``change``; if it applies (True), add the events. False: nothing written."""

        async def txn(session: AsyncClientSession) -> bool:
            if not await change(session):
                return False
            await insert_events(self.outbox, events, session)
            return True

        return await _atomically(self.db, txn)

    # ---------------------------------------------------------------- grants

    async def insert_grant(self, doc: Document, outbox_doc: Document) -> bool:
        async def change(session: AsyncClientSession) -> bool:
            await self.grants.insert_one(doc, session=session)
            return True

        return await self._with_events(change, [outbox_doc])

    async def get_grant(self, patient_id: str, grant_id: str) -> Document | None:
        return await self.grants.find_one({"_id": owned_key(patient_id, grant_id)})

    async def list_grants(self, patient_id: str) -> list[Document]:
        cursor = self.grants.find({"patient_id": patient_id}).sort("created_at", ASCENDING)
        return [d async for d in cursor]

    async def add_key_versions(
        self, patient_id: str, grant_id: str, versions: list[Document], outbox_doc: Document
    ) -> bool:
        async def change(session: AsyncClientSession) -> bool:
            result = await self.grants.update_one(
                {"_id": owned_key(patient_id, grant_id), "status": "active"},
                {"$addToSet": {"key_versions": {"$each": versions}}},
                session=session,
            )
            return result.matched_count == 1

        return await self._with_events(change, [outbox_doc])

    async def revoke_grant(
        self, patient_id: str, grant_id: str, update: Document, outbox_doc: Document
    ) -> bool:
        async def change(session: AsyncClientSession) -> bool:
            result = await self.grants.update_one(
                {"_id": owned_key(patient_id, grant_id), "status": "active"},
                {"$set": {"status": "revoked", **update}},
                session=session,
            )
            return result.matched_count == 1

        return await self._with_events(change, [outbox_doc])

    # ---------------------------------------------------------------- patient keys

    async def patient(self, patient_id: str) -> Document:
        return await self.patients.find_one({"_id": patient_id}) or {"_id": patient_id}

    async def rotate(
        self,
        patient_id: str,
        segments: list[str],
        events: Callable[[dict[str, int]], list[Document]],
    ) -> dict[str, int]:
        new: dict[str, int] = {}

        async def change(session: AsyncClientSession) -> bool:
            doc = await self.patients.find_one({"_id": patient_id}, session=session) or {}
            versions = doc.get("versions", {})
            new.clear()
            new.update({s: int(versions.get(s, 1)) + 1 for s in segments})
            await self.patients.update_one(
                {"_id": patient_id},
                {"$set": {f"versions.{s}": v for s, v in new.items()}},
                upsert=True,
                session=session,
            )
            await insert_events(self.outbox, events(new), session)
            return True

        async with self.db.client.start_session() as session:
            try:
                await session.with_transaction(change)
            except DuplicateKeyError as exc:
                raise Duplicate(str(exc.details or "")) from None
        return new

    async def set_patient_fields(self, patient_id: str, fields: Document) -> None:
        await self.patients.update_one({"_id": patient_id}, {"$set": fields}, upsert=True)

    # ---------------------------------------------------------------- delegations

    async def get_delegation(self, patient_id: str, delegate_id: str) -> Document | None:
        return await self.delegations.find_one({"_id": owned_key(patient_id, delegate_id)})

    async def delegations_of(self, patient_id: str) -> list[Document]:
        cursor = self.delegations.find({"patient_id": patient_id}).sort("_id", ASCENDING)
        return [d async for d in cursor]

    async def put_delegation(self, doc: Document, outbox_doc: Document) -> bool:
        async def change(session: AsyncClientSession) -> bool:
            await self.delegations.replace_one(
                {"_id": doc["_id"]}, doc, upsert=True, session=session
            )
            return True

        return await self._with_events(change, [outbox_doc])


def _conforms(records: MongoRecordStore, acl: MongoAclStore) -> tuple[RecordStore, AclStore]:
    return records, acl  # mypy checks the classes against the contracts

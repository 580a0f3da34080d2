"""owner-api's Mongo: records (pending, committed, tombstones), outbox, contributors.

The only module of owner-api that imports pymongo.

``records``: one document per (patient, record), ``_id = "<patient>/<record>"``::

    {patient_id, record_id, upload_id, status: pending|committed|deleting|deleted,
     uploaded_by, signed_manifest, manifest_sha256, segments: [summary...],
     tags: {segment: [hex...]} (pending only), stored: {segment: {size, sha256}},
     created_at, touched_at, committed_at, deleted_at, deleted_by}

``outbox``: events written in the same transaction as the state change they announce,
``_id = "<type>:<patient>/<record>"`` (so each record announces each change once),
relayed to Kafka by :mod:`owner_api.outbox`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from phr.service.mongo import Document

RECORDS: Final = "records"
OUTBOX: Final = "outbox"
CONTRIBUTORS: Final = "contributors"
T = TypeVar("T")


class Duplicate(Exception):
    """A unique key (record id or upload id of a patient) is taken."""


def record_key(patient_id: str, record_id: str) -> str:
    return f"{patient_id}/{record_id}"


class RecordStore:
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
        await self.outbox.create_index([("sent_at", ASCENDING), ("created_at", ASCENDING)])
        await self.contributors.create_index([("patient_id", ASCENDING)])

    async def _transaction(self, fn: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        async with self.db.client.start_session() as session:
            return await session.with_transaction(fn)

    # ---------------------------------------------------------------- records

    async def insert_pending(self, doc: Document) -> None:
        try:
            await self.records.insert_one(doc)
        except DuplicateKeyError as exc:
            raise Duplicate(str(exc.details or "")) from None

    async def get(self, patient_id: str, record_id: str) -> Document | None:
        return await self.records.find_one({"_id": record_key(patient_id, record_id)})

    async def by_upload(self, patient_id: str, upload_id: str) -> Document | None:
        return await self.records.find_one({"patient_id": patient_id, "upload_id": upload_id})

    async def touch(self, patient_id: str, record_id: str) -> bool:
        """Note activity on a pending upload (keeps the sweeper away); False if not pending."""
        result = await self.records.update_one(
            {"_id": record_key(patient_id, record_id), "status": "pending"},
            {"$set": {"touched_at": datetime.now(UTC)}},
        )
        return result.matched_count == 1

    async def mark_stored(
        self, patient_id: str, record_id: str, segment: str, size: int, sha256: str
    ) -> Document | None:
        """Record that a segment's blob is stored; the upload as it is now, or None if it is
        no longer pending."""
        now = datetime.now(UTC)
        return await self.records.find_one_and_update(
            {"_id": record_key(patient_id, record_id), "status": "pending"},
            {
                "$set": {
                    f"stored.{segment}": {"size": size, "sha256": sha256, "at": now},
                    "touched_at": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )

    async def commit(self, patient_id: str, record_id: str, outbox_doc: Document) -> bool:
        """pending -> committed and the outbox event, atomically; False if not pending."""

        async def txn(session: AsyncClientSession) -> bool:
            now = datetime.now(UTC)
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

        return await self._transaction(txn)

    async def start_delete(self, patient_id: str, record_id: str, by: str) -> Document | None:
        """committed -> deleting (hidden from reads); returns the document as it is now."""
        now = datetime.now(UTC)
        await self.records.update_one(
            {"_id": record_key(patient_id, record_id), "status": "committed"},
            {"$set": {"status": "deleting", "deleted_by": by, "touched_at": now}},
        )
        return await self.get(patient_id, record_id)

    async def tombstone(
        self, patient_id: str, record_id: str, tombstone: Document, outbox_doc: Document
    ) -> bool:
        """deleting -> deleted: replace the metadata by ``tombstone`` and add the event."""

        async def txn(session: AsyncClientSession) -> bool:
            key = record_key(patient_id, record_id)
            result = await self.records.replace_one(
                {"_id": key, "status": "deleting"}, tombstone, session=session
            )
            if result.matched_count != 1:
                return False
            await self.outbox.insert_one(outbox_doc, session=session)
            return True

        return await self._transaction(txn)

    async def claim_abandoned(
        self, patient_id: str, record_id: str, touched_at: datetime | None
    ) -> bool:
        """pending -> abandoned (if still untouched since ``touched_at``, when given).

        An abandoned upload takes no more segments and cannot commit; its blobs are
        removed next, then the document (:meth:`remove_abandoned`).
        """
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
        """Pending uploads untouched since ``before``, and abandoned ones not yet removed."""
        cursor = self.records.find(
            {
                "$or": [
                    {"status": "pending", "touched_at": {"$lt": before}},
                    {"status": "abandoned"},
                ]
            },
            {"patient_id": 1, "record_id": 1, "segments": 1, "touched_at": 1, "status": 1},
        ).limit(limit)
        return [d async for d in cursor]

    async def list_records(
        self, patient_id: str, *, include_deleted: bool, limit: int
    ) -> list[Document]:
        statuses = ["committed", "deleted"] if include_deleted else ["committed"]
        cursor = (
            self.records.find(
                {"patient_id": patient_id, "status": {"$in": statuses}},
                {"tags": 0, "signed_manifest": 0},
            )
            .sort([("created_at", DESCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [d async for d in cursor]

    # ---------------------------------------------------------------- outbox

    async def unsent(self, limit: int = 100) -> list[Document]:
        cursor = self.outbox.find({"sent_at": None}).sort("created_at", ASCENDING).limit(limit)
        return [d async for d in cursor]

    async def mark_sent(self, event_key: str) -> None:
        await self.outbox.update_one({"_id": event_key}, {"$set": {"sent_at": datetime.now(UTC)}})

    # ---------------------------------------------------------------- contributors

    async def add_contributor(self, patient_id: str, org_id: str) -> Document:
        doc: Document = {"patient_id": patient_id, "org_id": org_id, "added_at": datetime.now(UTC)}
        await self.contributors.update_one(
            {"_id": f"{patient_id}/{org_id}"}, {"$setOnInsert": doc}, upsert=True
        )
        found = await self.contributors.find_one({"_id": f"{patient_id}/{org_id}"})
        return found or doc

    async def remove_contributor(self, patient_id: str, org_id: str) -> bool:
        result = await self.contributors.delete_one({"_id": f"{patient_id}/{org_id}"})
        return result.deleted_count == 1

    async def contributors_of(self, patient_id: str) -> list[Document]:
        cursor = self.contributors.find({"patient_id": patient_id}).sort("org_id", ASCENDING)
        return [d async for d in cursor]

    async def is_contributor(self, patient_id: str, org_id: str) -> bool:
        return await self.contributors.find_one({"_id": f"{patient_id}/{org_id}"}) is not None


def without_id(doc: Document) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}

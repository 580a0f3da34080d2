"""The KGC's store on MongoDB; the only KGC module that imports pymongo.

The contract, collections and fields are in :mod:`kgc.store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kgc.store import Duplicate, KgcStore
from phr.service.mongo import Document
from phr.service.outbox import OUTBOX

USERS = "users"
ORGS = "orgs"
CHALLENGES = "challenges"
GROUPS = "groups"
EARLY_REVOCATIONS = "early_revocations"
#: a duplicate key in a bulk insert
_DUPLICATE_KEY = 11000

T = TypeVar("T")


def _duplicate(exc: DuplicateKeyError) -> Duplicate:
    key = (exc.details or {}).get("keyPattern") or {}
    return Duplicate(next(iter(key), "_id"))


class MongoKgcStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.users = db[USERS]
        self.orgs = db[ORGS]
        self.challenges = db[CHALLENGES]
        self.groups = db[GROUPS]
        self.outbox = db[OUTBOX]
        self.early_revocations = db[EARLY_REVOCATIONS]

    async def ensure_indexes(self) -> None:
        await self.users.create_index("ed25519_fp", unique=True)
        await self.users.create_index("umbral_fp", unique=True)
        await self.users.create_index(
            [("role", ASCENDING), ("organisation_id", ASCENDING), ("department", ASCENDING)]
        )
        await self.users.create_index([("organisation_id", ASCENDING), ("status", ASCENDING)])
        await self.orgs.create_index("name", unique=True)
        await self.challenges.create_index("expires_at", expireAfterSeconds=0)

    async def _transaction(self, fn: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        async with self.db.client.start_session() as session:
            return await session.with_transaction(fn)

    # ---------------------------------------------------------------- users

    async def insert_user(self, doc: Document, event: Document) -> None:
        async def change(session: AsyncClientSession) -> None:
            await self.users.insert_one(doc, session=session)
            await self.outbox.insert_one(event, session=session)

        try:
            await self._transaction(change)
        except DuplicateKeyError as exc:
            raise _duplicate(exc) from None

    async def restore_user(self, doc: Document) -> bool:
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_user(self, user_id: str) -> Document | None:
        return await self.users.find_one({"_id": user_id})

    async def user_by_fingerprint(self, field: str, fingerprint: str) -> Document | None:
        assert field in ("ed25519_fp", "umbral_fp")
        return await self.users.find_one({field: fingerprint})

    async def find_users(self, selector: dict[str, Any], limit: int) -> list[Document]:
        cursor = self.users.find(selector).sort("_id", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def transition(
        self,
        user_id: str,
        *,
        from_status: list[str],
        update: dict[str, Any],
        events: Sequence[Document] = (),
    ) -> Document | None:
        async def change(session: AsyncClientSession) -> Document | None:
            updated = await self.users.find_one_and_update(
                {"_id": user_id, "status": {"$in": from_status}},
                {"$set": update},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if updated is not None and events:
                await self.outbox.insert_many(list(events), session=session)
            return updated

        return await self._transaction(change)

    async def add_events(self, events: Sequence[Document]) -> None:
        if not events:
            return
        try:
            await self.outbox.insert_many(list(events), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise

    async def unsent_events(self) -> list[Document]:
        cursor = self.outbox.find({"sent_at": None}).sort("created_at", ASCENDING)
        return [d async for d in cursor]

    # ---------------------------------------------------------------- orgs

    async def note_revocation(self, user_id: str, doc: Document) -> None:
        await self.early_revocations.update_one(
            {"_id": user_id}, {"$setOnInsert": doc}, upsert=True
        )

    async def noted_revocation(self, user_id: str) -> Document | None:
        return await self.early_revocations.find_one({"_id": user_id})

    async def insert_org(self, doc: Document, event: Document | None = None) -> None:
        async def change(session: AsyncClientSession) -> None:
            await self.orgs.insert_one(doc, session=session)
            if event is not None:
                await self.outbox.insert_one(event, session=session)

        try:
            await self._transaction(change)
        except DuplicateKeyError as exc:
            raise _duplicate(exc) from None

    async def get_org(self, org_id: str) -> Document | None:
        return await self.orgs.find_one({"_id": org_id})

    async def list_orgs(self, limit: int) -> list[Document]:
        return [doc async for doc in self.orgs.find().sort("name", ASCENDING).limit(limit)]

    # ---------------------------------------------------------------- challenges

    async def put_challenge(self, nonce: str, user_id: str, expires_at: datetime) -> None:
        await self.challenges.insert_one(
            {"_id": nonce, "user_id": user_id, "expires_at": expires_at}
        )

    async def take_challenge(self, nonce: str, user_id: str) -> Document | None:
        doc = await self.challenges.find_one_and_delete({"_id": nonce, "user_id": user_id})
        if doc is None or doc["expires_at"] <= datetime.now(UTC):
            return None
        return doc

    # ---------------------------------------------------------------- groups

    async def insert_group(self, doc: Document) -> bool:
        try:
            await self.groups.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def get_group(self, group_id: str) -> Document | None:
        return await self.groups.find_one({"_id": group_id})

    async def all_groups(self) -> list[Document]:
        return [doc async for doc in self.groups.find()]

    async def bump_group_version(self, group_id: str) -> None:
        await self.groups.update_one(
            {"_id": group_id}, {"$inc": {"version": 1}, "$set": {"rotated_at": datetime.now(UTC)}}
        )


def _conforms(store: MongoKgcStore) -> KgcStore:
    return store  # mypy checks the class against the contract

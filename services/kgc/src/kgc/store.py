"""The KGC's MongoDB collections; the only module that imports pymongo.

users       {_id: user id, role, organisation_id, department, display_name, status,
             ed25519_public, umbral_public, ed25519_fp, umbral_fp, enrolled_at,
             credential, approved_by, revoked_by, revoked_reason}
             unique: ed25519_fp, umbral_fp (a key belongs to one user: tracing relies on it)
orgs        {_id: org id, name (unique), kind, created_by, created_at}
challenges  {_id: nonce, user_id, expires_at}  TTL-deleted; taken at most once
groups      {_id: group id, selector, version, created_by, created_at, rotated_at}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from phr.service.mongo import Document

USERS = "users"
ORGS = "orgs"
CHALLENGES = "challenges"
GROUPS = "groups"


class Duplicate(Exception):
    """A unique index refused the write; ``field`` names which one."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


def _duplicate(exc: DuplicateKeyError) -> Duplicate:
    key = (exc.details or {}).get("keyPattern") or {}
    return Duplicate(next(iter(key), "_id"))


class KgcStore:
    """Users, organisations and login challenges."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.users = db[USERS]
        self.orgs = db[ORGS]
        self.challenges = db[CHALLENGES]
        self.groups = db[GROUPS]

    async def ensure_indexes(self) -> None:
        await self.users.create_index("ed25519_fp", unique=True)
        await self.users.create_index("umbral_fp", unique=True)
        await self.users.create_index(
            [("role", ASCENDING), ("organisation_id", ASCENDING), ("department", ASCENDING)]
        )
        await self.users.create_index([("organisation_id", ASCENDING), ("status", ASCENDING)])
        await self.orgs.create_index("name", unique=True)
        await self.challenges.create_index("expires_at", expireAfterSeconds=0)

    # ---------------------------------------------------------------- users

    async def insert_user(self, doc: Document) -> None:
        try:
            await self.users.insert_one(doc)
        except DuplicateKeyError as exc:
            raise _duplicate(exc) from None

    async def get_user(self, user_id: str) -> Document | None:
        return await self.users.find_one({"_id": user_id})

    async def user_by_fingerprint(self, field: str, fingerprint: str) -> Document | None:
        assert field in ("ed25519_fp", "umbral_fp")
        return await self.users.find_one({field: fingerprint})

    async def find_users(self, selector: dict[str, Any], limit: int) -> list[Document]:
        cursor = self.users.find(selector).sort("_id", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def transition(
        self, user_id: str, *, from_status: list[str], update: dict[str, Any]
    ) -> Document | None:
        """Set ``update`` if the user's status is one of ``from_status``; the new document."""
        return await self.users.find_one_and_update(
            {"_id": user_id, "status": {"$in": from_status}},
            {"$set": update},
            return_document=ReturnDocument.AFTER,
        )

    # ---------------------------------------------------------------- orgs

    async def insert_org(self, doc: Document) -> None:
        try:
            await self.orgs.insert_one(doc)
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
        """Remove and return the challenge (atomic: a nonce answers at most one login)."""
        doc = await self.challenges.find_one_and_delete({"_id": nonce, "user_id": user_id})
        if doc is None or doc["expires_at"] <= datetime.now(UTC):
            return None
        return doc

    # ---------------------------------------------------------------- groups

    async def insert_group(self, doc: Document) -> bool:
        """False if the group exists already (same id: same selector)."""
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

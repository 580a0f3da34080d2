"""The KGC's store in memory, for the fast tier; held to :mod:`kgc.store`'s contract."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kgc.store import Duplicate, KgcStore
from phr.service.mongo import Document

_USER_UNIQUE = ("_id", "ed25519_fp", "umbral_fp")


class MemoryKgcStore:
    def __init__(self) -> None:
        self.users: dict[str, Document] = {}
        self.orgs: dict[str, Document] = {}
        self.challenges: dict[str, Document] = {}
        self.groups: dict[str, Document] = {}
        self.outbox: dict[str, Document] = {}
        self.early_revocations: dict[str, Document] = {}

    # Documents are copied in and out, as a database would: a caller's later change to
    # a dict it passed or got never reaches the stored state.

    async def insert_user(self, doc: Document, event: Document) -> None:
        for field in _USER_UNIQUE:
            if any(u.get(field) == doc.get(field) for u in self.users.values()):
                raise Duplicate(field)
        if event["_id"] in self.outbox:
            raise Duplicate("_id")
        self.users[doc["_id"]] = copy.deepcopy(doc)
        self.outbox[event["_id"]] = copy.deepcopy(event)

    async def get_user(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.users.get(user_id))

    async def user_by_fingerprint(self, field: str, fingerprint: str) -> Document | None:
        assert field in ("ed25519_fp", "umbral_fp")
        found = next((u for u in self.users.values() if u.get(field) == fingerprint), None)
        return copy.deepcopy(found)

    async def find_users(self, selector: dict[str, Any], limit: int) -> list[Document]:
        found = [u for u in self.users.values() if all(u.get(k) == v for k, v in selector.items())]
        return copy.deepcopy(sorted(found, key=lambda u: u["_id"])[:limit])

    async def transition(
        self,
        user_id: str,
        *,
        from_status: list[str],
        update: dict[str, Any],
        events: Sequence[Document] = (),
    ) -> Document | None:
        user = self.users.get(user_id)
        if user is None or user["status"] not in from_status:
            return None
        if any(e["_id"] in self.outbox for e in events):
            raise Duplicate("_id")  # as the Mongo transaction aborts on the outbox insert
        user.update(copy.deepcopy(update))
        self.outbox |= {e["_id"]: copy.deepcopy(e) for e in events}
        return copy.deepcopy(user)

    async def add_events(self, events: Sequence[Document]) -> None:
        for e in events:
            self.outbox.setdefault(e["_id"], copy.deepcopy(e))

    async def unsent_events(self) -> list[Document]:
        unsent = [e for e in self.outbox.values() if e.get("sent_at") is None]
        return copy.deepcopy(sorted(unsent, key=lambda e: e["created_at"]))

    async def restore_user(self, doc: Document) -> bool:
        if any(u.get(f) == doc.get(f) for f in _USER_UNIQUE for u in self.users.values()):
            return False
        self.users[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def note_revocation(self, user_id: str, doc: Document) -> None:
        self.early_revocations.setdefault(user_id, copy.deepcopy(doc))

    async def noted_revocation(self, user_id: str) -> Document | None:
        return copy.deepcopy(self.early_revocations.get(user_id))

    async def insert_org(self, doc: Document, event: Document | None = None) -> None:
        if doc["_id"] in self.orgs:
            raise Duplicate("_id")
        if any(o["name"] == doc["name"] for o in self.orgs.values()):
            raise Duplicate("name")
        if event is not None and event["_id"] in self.outbox:
            raise Duplicate("_id")
        self.orgs[doc["_id"]] = copy.deepcopy(doc)
        if event is not None:
            self.outbox[event["_id"]] = copy.deepcopy(event)

    async def get_org(self, org_id: str) -> Document | None:
        return copy.deepcopy(self.orgs.get(org_id))

    async def list_orgs(self, limit: int) -> list[Document]:
        return copy.deepcopy(sorted(self.orgs.values(), key=lambda o: o["name"])[:limit])

    async def put_challenge(self, nonce: str, user_id: str, expires_at: datetime) -> None:
        self.challenges[nonce] = {"_id": nonce, "user_id": user_id, "expires_at": expires_at}

    async def take_challenge(self, nonce: str, user_id: str) -> Document | None:
        doc = self.challenges.get(nonce)
        if doc is None or doc["user_id"] != user_id:
            return None
        del self.challenges[nonce]
        return None if doc["expires_at"] <= datetime.now(UTC) else doc

    async def insert_group(self, doc: Document) -> bool:
        if doc["_id"] in self.groups:
            return False
        self.groups[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def get_group(self, group_id: str) -> Document | None:
        return copy.deepcopy(self.groups.get(group_id))

    async def all_groups(self) -> list[Document]:
        return copy.deepcopy(list(self.groups.values()))

    async def bump_group_version(self, group_id: str) -> None:
        group = self.groups.get(group_id)
        if group is not None:
            group["version"] += 1
            group["rotated_at"] = datetime.now(UTC)


def _conforms(store: MemoryKgcStore) -> KgcStore:
    return store  # mypy checks the class against the contract

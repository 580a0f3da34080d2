"""The KGC store contract (kgc.store.KgcStore), run against memory and MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from kgc.memory import MemoryKgcStore
from kgc.mongo_store import MongoKgcStore
from kgc.store import Duplicate, KgcStore
from phr.service.mongo import Document


def user(uid: str, **kw: Any) -> Document:
    return {
        "_id": uid,
        "role": "doctor",
        "organisation_id": "org_a",
        "department": "cardio",
        "status": "active",
        "ed25519_fp": f"ed-{uid}",
        "umbral_fp": f"um-{uid}",
    } | kw


def event(key: str, at: int = 0) -> Document:
    return {
        "_id": f"user.x:{key}",
        "event_id": key,
        "envelope": "{}",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=at),
        "sent_at": None,
    }


class KgcStoreContract:
    """Every implementation of KgcStore passes these; subclasses supply ``store``."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[KgcStore]:
        raise NotImplementedError
        yield

    async def test_a_user_and_his_event_are_written_together(self, store: KgcStore) -> None:
        await store.insert_user(user("u1"), event("u1"))
        assert (await store.get_user("u1") or {})["role"] == "doctor"
        assert [e["_id"] for e in await store.unsent_events()] == ["user.x:u1"]

    @pytest.mark.parametrize("field", ["_id", "ed25519_fp", "umbral_fp"])
    async def test_a_taken_key_refuses_the_user_and_writes_nothing(
        self, store: KgcStore, field: str
    ) -> None:
        await store.insert_user(user("u1"), event("u1"))
        twin = user("u2") | {field: user("u1")[field]}
        with pytest.raises(Duplicate) as exc:
            await store.insert_user(twin, event("u2"))
        assert exc.value.field == field
        assert [e["_id"] for e in await store.unsent_events()] == ["user.x:u1"]
        if field != "_id":
            assert await store.get_user("u2") is None

    async def test_lookups_by_fingerprint_and_selector(self, store: KgcStore) -> None:
        for i, dept in enumerate(["cardio", "onco", "cardio"]):
            await store.insert_user(user(f"u{i}", department=dept), event(f"u{i}"))
        assert (await store.user_by_fingerprint("umbral_fp", "um-u1") or {})["_id"] == "u1"
        assert await store.user_by_fingerprint("ed25519_fp", "nobody") is None
        found = await store.find_users({"department": "cardio", "role": "doctor"}, 10)
        assert [u["_id"] for u in found] == ["u0", "u2"]
        assert [u["_id"] for u in await store.find_users({}, 2)] == ["u0", "u1"]

    async def test_a_transition_writes_its_events_only_when_it_applies(
        self, store: KgcStore
    ) -> None:
        await store.insert_user(user("u1"), event("u1"))
        done = await store.transition(
            "u1", from_status=["active"], update={"status": "revoked"}, events=[event("r1", 1)]
        )
        assert done is not None and done["status"] == "revoked"
        again = await store.transition(
            "u1", from_status=["active"], update={"status": "revoked"}, events=[event("r2", 2)]
        )
        assert again is None
        assert (await store.get_user("u1") or {})["status"] == "revoked"
        assert [e["_id"] for e in await store.unsent_events()] == ["user.x:u1", "user.x:r1"]
        assert await store.transition("nobody", from_status=["active"], update={}) is None

    async def test_added_events_skip_those_written_before(self, store: KgcStore) -> None:
        await store.add_events([event("a", 1)])
        await store.add_events([event("a", 1), event("b", 2)])
        assert [e["_id"] for e in await store.unsent_events()] == ["user.x:a", "user.x:b"]

    async def test_organisations_are_unique_by_id_and_name(self, store: KgcStore) -> None:
        org = {"_id": "org_1", "name": "St Mary", "kind": "hospital"}
        await store.insert_org(org)
        await store.insert_org({"_id": "org_0", "name": "Barts", "kind": "hospital"})
        with pytest.raises(Duplicate) as exc:
            await store.insert_org({"_id": "org_2", "name": "St Mary", "kind": "lab"})
        assert exc.value.field == "name"
        assert (await store.get_org("org_1") or {})["name"] == "St Mary"
        assert [o["name"] for o in await store.list_orgs(10)] == ["Barts", "St Mary"]
        assert await store.get_org("org_2") is None

    async def test_an_organisation_and_its_event_are_written_together(
        self, store: KgcStore
    ) -> None:
        await store.insert_org({"_id": "org_1", "name": "St Mary", "kind": "hospital"}, event("o1"))
        with pytest.raises(Duplicate):
            await store.insert_org({"_id": "org_2", "name": "St Mary", "kind": "lab"}, event("o2"))
        assert [e["_id"] for e in await store.unsent_events()] == ["user.x:o1"]
        assert await store.get_org("org_2") is None

    async def test_a_restored_user_is_written_once_and_announces_nothing(
        self, store: KgcStore
    ) -> None:
        assert await store.restore_user(user("u1"))
        assert not await store.restore_user(user("u1") | {"status": "pending"})
        assert not await store.restore_user(user("u2") | {"ed25519_fp": "ed-u1"})
        assert (await store.get_user("u1") or {})["status"] == "active"
        assert await store.get_user("u2") is None
        assert await store.unsent_events() == []

    async def test_an_early_revocation_is_noted_once(self, store: KgcStore) -> None:
        assert await store.noted_revocation("u1") is None
        await store.note_revocation("u1", {"revoked_by": "a", "revoked_reason": "first"})
        await store.note_revocation("u1", {"revoked_by": "b", "revoked_reason": "second"})
        noted = await store.noted_revocation("u1") or {}
        assert (noted["revoked_by"], noted["revoked_reason"]) == ("a", "first")

    async def test_a_challenge_is_taken_once_by_its_user_before_expiry(
        self, store: KgcStore
    ) -> None:
        soon = datetime.now(UTC) + timedelta(minutes=1)
        await store.put_challenge("n1", "u1", soon)
        assert await store.take_challenge("n1", "u2") is None
        assert (await store.take_challenge("n1", "u1") or {})["user_id"] == "u1"
        assert await store.take_challenge("n1", "u1") is None
        await store.put_challenge("n2", "u1", datetime.now(UTC) - timedelta(seconds=1))
        assert await store.take_challenge("n2", "u1") is None

    async def test_groups_insert_once_and_bump_their_version(self, store: KgcStore) -> None:
        doc = {"_id": "g1", "selector": {"role": "nurse"}, "version": 1}
        assert await store.insert_group(doc)
        assert not await store.insert_group(doc | {"version": 7})
        await store.bump_group_version("g1")
        await store.bump_group_version("unknown")
        got = await store.get_group("g1") or {}
        assert got["version"] == 2 and got["rotated_at"] is not None
        assert [g["_id"] for g in await store.all_groups()] == ["g1"]

    async def test_returned_documents_are_copies(self, store: KgcStore) -> None:
        await store.insert_user(user("u1"), event("u1"))
        got = await store.get_user("u1") or {}
        got["status"] = "tampered"
        assert (await store.get_user("u1") or {})["status"] == "active"


class TestMemoryKgcStore(KgcStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[KgcStore]:
        yield MemoryKgcStore()


@pytest.mark.e2e
class TestMongoKgcStore(KgcStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[KgcStore]:
        store = MongoKgcStore(mongo_db)
        await store.ensure_indexes()
        yield store

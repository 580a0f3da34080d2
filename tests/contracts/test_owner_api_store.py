"""owner-api's store contract (owner_api.store.RecordStore, AclStore), run against memory
and MongoDB.

Each state change is checked with the outbox it writes: exactly one event per change, none
for a retry, a refused change or another patient's ids.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from owner_api.memory import memory_stores
from owner_api.mongo_store import MongoAclStore, MongoRecordStore
from owner_api.store import SLIM_LEAVES_OUT, STALE_FIELDS, Duplicate, tombstone_doc
from phr.service.mongo import Document
from phr.service.outbox import OUTBOX
from tests.support.owner_stores import T0, Stores, delegation, event, grant, pending


class OwnerStoreContract:
    """Every implementation pair passes these; subclasses supply ``stores``."""

    @pytest.fixture
    async def stores(self) -> AsyncIterator[Stores]:
        raise NotImplementedError
        yield

    # ---------------------------------------------------------------- pending uploads

    async def test_a_pending_upload_is_found_by_record_and_by_upload(self, stores: Stores) -> None:
        s = stores.records
        await s.insert_pending(pending())
        assert await s.get("p1", "r1") == pending()
        assert await s.by_upload("p1", "up-r1") == pending()
        slim = await s.by_upload("p1", "up-r1", slim=True) or {}
        assert slim == {k: v for k, v in pending().items() if k not in SLIM_LEAVES_OUT}
        assert await s.get("p2", "r1") is None and await s.by_upload("p2", "up-r1") is None
        assert await stores.outbox() == []

    async def test_a_taken_record_or_upload_id_is_a_duplicate(self, stores: Stores) -> None:
        s = stores.records
        await s.insert_pending(pending())
        with pytest.raises(Duplicate):
            await s.insert_pending(pending(upload="up-other"))
        with pytest.raises(Duplicate):
            await s.insert_pending(pending("r2", upload="up-r1"))
        assert await s.get("p1", "r2") is None
        assert (await s.get("p1", "r1") or {})["upload_id"] == "up-r1"
        await s.insert_pending(pending(patient="p2"))  # another patient: the same ids are free
        assert (await s.by_upload("p2", "up-r1") or {})["patient_id"] == "p2"

    async def test_touch_and_mark_stored_change_a_pending_upload_only(self, stores: Stores) -> None:
        s = stores.records
        await s.insert_pending(pending())
        assert await s.touch("p1", "r1")
        assert (await s.get("p1", "r1") or {})["touched_at"] > T0
        now = await s.mark_stored("p1", "r1", {"labs": (3, "ab")}) or {}
        assert not set(SLIM_LEAVES_OUT) & set(now)
        assert (now["stored"]["labs"]["size"], now["stored"]["labs"]["sha256"]) == (3, "ab")
        again = await s.mark_stored("p1", "r1", {"notes": (5, "cd")}) or {}
        assert sorted(again["stored"]) == ["labs", "notes"]
        assert not await s.touch("p2", "r1") and await s.mark_stored("p2", "r1", {}) is None
        assert await s.commit("p1", "r1", event("record.uploaded", "p1/r1"))
        assert not await s.touch("p1", "r1")
        assert await s.mark_stored("p1", "r1", {"x": (1, "ef")}) is None
        assert sorted((await s.get("p1", "r1") or {})["stored"]) == ["labs", "notes"]

    async def test_a_commit_applies_once_with_its_event(self, stores: Stores) -> None:
        s = stores.records
        await s.insert_pending(pending())
        at = T0 + timedelta(minutes=5)
        assert not await s.commit("p2", "r1", event("record.uploaded", "p2/r1"), at=at)
        assert await s.commit("p1", "r1", event("record.uploaded", "p1/r1"), at=at)
        doc = await s.get("p1", "r1") or {}
        assert (doc["status"], doc["committed_at"], doc["touched_at"]) == ("committed", at, at)
        assert "tags" not in doc
        assert not await s.commit("p1", "r1", event("record.uploaded", "p1/r1"))  # a retry
        assert not await s.commit("p1", "r1", event("record.uploaded", "p1/r1#2"))
        assert await stores.outbox() == ["record.uploaded:p1/r1"]

    async def test_a_commit_whose_event_id_is_taken_writes_nothing(self, stores: Stores) -> None:
        s = stores.records
        await stores.committed("r1")
        await s.insert_pending(pending("r2"))
        assert not await s.commit("p1", "r2", event("record.uploaded", "p1/r1"))
        assert (await s.get("p1", "r2") or {})["status"] == "pending"
        assert await stores.outbox() == ["record.uploaded:p1/r1"]

    # ---------------------------------------------------------------- reading, re-wrap

    async def test_listing_is_newest_first_committed_only_and_slim(self, stores: Stores) -> None:
        s = stores.records
        for i, rid in enumerate(["r1", "r2", "r3"]):
            await stores.committed(rid, created_at=T0 + timedelta(seconds=i))
        await stores.committed("r0", created_at=T0 + timedelta(seconds=2))  # ties r3
        await stores.committed("r9", patient="p2")
        await s.insert_pending(pending("r5", created_at=T0 + timedelta(days=1)))
        await stores.committed("r4")
        await s.start_delete("p1", "r4", "p1")
        listed = await s.list_records("p1", include_deleted=True, limit=10)
        assert [d["record_id"] for d in listed] == ["r0", "r3", "r2", "r1"]
        assert all(not set(SLIM_LEAVES_OUT) & set(d) for d in listed)
        top = await s.list_records("p1", include_deleted=False, limit=2)
        assert [d["record_id"] for d in top] == ["r0", "r3"]

    async def test_a_manifest_is_replaced_only_over_the_expected_one(self, stores: Stores) -> None:
        s = stores.records
        await stores.committed()
        new = {"manifest_sha256": "sha-new", "signed_manifest": {"manifest": {"v": 2}}}
        wrap = event("record.uploaded", "p1/r1/sha-new")
        assert not await s.replace_manifest("p1", "r1", "sha-other", new, wrap)
        assert not await s.replace_manifest("p2", "r1", "sha-r1", new, wrap)
        assert await s.replace_manifest("p1", "r1", "sha-r1", new, wrap)
        assert (await s.get("p1", "r1") or {})["manifest_sha256"] == "sha-new"
        assert not await s.replace_manifest("p1", "r1", "sha-r1", new, wrap)  # a retry
        assert await stores.outbox() == ["record.uploaded:p1/r1", "record.uploaded:p1/r1/sha-new"]

    # ---------------------------------------------------------------- deletion

    async def test_a_deletion_leaves_a_tombstone_and_one_event(self, stores: Stores) -> None:
        s = stores.records
        committed = await stores.committed()
        assert await s.start_delete("p1", "nope", "p1") is None
        assert await s.start_delete("p2", "r1", "p2") is None
        deleting = await s.start_delete("p1", "r1", "p1") or {}
        assert (deleting["status"], deleting["deleted_by"]) == ("deleting", "p1")
        assert (await s.start_delete("p1", "r1", "p1") or {})["status"] == "deleting"
        assert await s.list_records("p1", include_deleted=True, limit=10) == []
        stone = tombstone_doc(committed, deleted_by="p1", at=T0 + timedelta(hours=1))
        gone = event("record.deleted", "p1/r1")
        assert await s.tombstone("p1", "r1", stone, gone)
        assert not await s.tombstone("p1", "r1", stone, gone)
        doc = await s.get("p1", "r1") or {}
        assert doc == stone | {"_id": "p1/r1"} and "signed_manifest" not in doc
        assert (await s.start_delete("p1", "r1", "p1") or {})["status"] == "deleted"
        assert [d["status"] for d in await s.list_records("p1", include_deleted=True, limit=5)] == [
            "deleted"
        ]
        assert await s.list_records("p1", include_deleted=False, limit=5) == []
        assert await stores.outbox() == ["record.deleted:p1/r1", "record.uploaded:p1/r1"]
        with pytest.raises(Duplicate):  # the tombstone keeps the ids
            await s.insert_pending(pending())

    # ---------------------------------------------------------------- abandoned uploads

    async def test_an_abandoned_upload_is_claimed_once_then_removed(self, stores: Stores) -> None:
        s = stores.records
        await s.insert_pending(pending())
        touched = (await s.get("p1", "r1") or {})["touched_at"]
        assert not await s.claim_abandoned("p1", "r1", touched - timedelta(seconds=1))
        assert not await s.claim_abandoned("p2", "r1", None)
        assert await s.claim_abandoned("p1", "r1", touched)
        assert not await s.claim_abandoned("p1", "r1", None)
        assert await s.mark_stored("p1", "r1", {"labs": (3, "ab")}) is None
        assert not await s.commit("p1", "r1", event("record.uploaded", "p1/r1"))
        assert not await s.remove_abandoned("p2", "r1")
        assert await s.remove_abandoned("p1", "r1")
        assert not await s.remove_abandoned("p1", "r1")
        assert await s.get("p1", "r1") is None and await stores.outbox() == []
        await s.insert_pending(pending())  # its ids are free again

    async def test_stale_pending_lists_old_pending_and_abandoned_uploads(
        self, stores: Stores
    ) -> None:
        s = stores.records
        await s.insert_pending(pending("old"))
        await s.insert_pending(pending("fresh", touched_at=T0 + timedelta(hours=2)))
        await s.insert_pending(pending("left", patient="p2", touched_at=T0 + timedelta(hours=3)))
        assert await s.claim_abandoned("p2", "left", None)
        await stores.committed("done")
        assert not await s.remove_abandoned("p1", "old")  # pending, not abandoned
        stale = await s.stale_pending(T0 + timedelta(hours=1))
        assert sorted(d["record_id"] for d in stale) == ["left", "old"]
        assert all(set(d) == {"_id", *STALE_FIELDS} for d in stale)
        assert len(await s.stale_pending(T0 + timedelta(hours=1), limit=1)) == 1

    # ---------------------------------------------------------------- rebuilt from events

    async def test_a_restored_record_is_written_once_without_events(self, stores: Stores) -> None:
        s = stores.records
        doc = pending(status="committed", committed_at=T0)
        assert await s.restore(doc)
        assert not await s.restore(doc | {"manifest_sha256": "sha-x"})
        assert not await s.restore(pending("r2", upload="up-r1", status="committed"))
        update = {"manifest_sha256": "sha-v2"}
        assert not await s.restore_manifest("p1", "r1", "sha-r1", {"manifest_sha256": "sha-r1"})
        assert await s.restore_manifest("p1", "r1", "sha-r1", update)
        assert not await s.restore_manifest("p1", "r1", "sha-r1", update)
        stone = tombstone_doc(await s.get("p1", "r1") or {}, deleted_by="p1", at=T0)
        assert not await s.restore_tombstone("p2", "r1", stone)
        assert await s.restore_tombstone("p1", "r1", stone)
        assert not await s.restore_tombstone("p1", "r1", stone)
        assert (await s.get("p1", "r1") or {})["status"] == "deleted"
        assert await stores.outbox() == []

    # ---------------------------------------------------------------- contributors

    async def test_contributors_are_added_once_and_scoped(self, stores: Stores) -> None:
        s = stores.records
        first = await s.add_contributor("p1", "org_b")
        again = await s.add_contributor("p1", "org_b")
        assert first["added_at"] == again["added_at"] and again["org_id"] == "org_b"
        await s.add_contributor("p1", "org_a")
        await s.add_contributor("p2", "org_c")
        assert [c["org_id"] for c in await s.contributors_of("p1")] == ["org_a", "org_b"]
        assert await s.is_contributor("p1", "org_a") and not await s.is_contributor("p2", "org_a")
        assert not await s.remove_contributor("p2", "org_a")
        assert await s.remove_contributor("p1", "org_a")
        assert not await s.remove_contributor("p1", "org_a")
        assert [c["org_id"] for c in await s.contributors_of("p1")] == ["org_b"]

    async def test_documents_are_copies(self, stores: Stores) -> None:
        doc = pending()
        await stores.records.insert_pending(doc)
        doc["status"] = "tampered"
        got = await stores.records.get("p1", "r1") or {}
        got["segments"].clear()
        again = await stores.records.get("p1", "r1") or {}
        assert again["status"] == "pending" and len(again["segments"]) == 1

    # ---------------------------------------------------------------- grants

    async def test_a_grant_is_written_once_with_its_event(self, stores: Stores) -> None:
        acl = stores.acl
        granted = event("acl.granted", "p1/g1/labs.v1")
        assert await acl.insert_grant(grant(), granted)
        assert not await acl.insert_grant(grant(), granted)  # a retry
        assert not await acl.insert_grant(grant(), event("acl.granted", "p1/g1/other"))
        assert await acl.get_grant("p1", "g1") == grant()
        assert await acl.get_grant("p2", "g1") is None
        assert await stores.outbox() == ["acl.granted:p1/g1/labs.v1"]

    async def test_a_grant_whose_event_id_is_taken_is_a_clean_no_op(self, stores: Stores) -> None:
        # The retry bug: Mongo's insert_many made this a BulkWriteError (a 500).
        acl = stores.acl
        granted = event("acl.granted", "p1/g1/labs.v1")
        assert await acl.insert_grant(grant(), granted)
        assert not await acl.insert_grant(grant("g2"), granted)
        assert await acl.get_grant("p1", "g2") is None
        assert await stores.outbox() == ["acl.granted:p1/g1/labs.v1"]

    async def test_grants_are_listed_by_creation_and_scoped(self, stores: Stores) -> None:
        acl = stores.acl
        for gid, at in [("g2", 1), ("g1", 2), ("g3", 0)]:
            assert await acl.insert_grant(grant(gid, at=at), event("acl.granted", gid))
        assert await acl.insert_grant(grant("g9", "p2"), event("acl.granted", "p2/g9"))
        assert [g["grant_id"] for g in await acl.list_grants("p1")] == ["g3", "g2", "g1"]
        assert [g["grant_id"] for g in await acl.list_grants("p2")] == ["g9"]
        assert await acl.list_grants("p3") == []

    async def test_key_versions_are_added_as_a_set_and_announced_once(self, stores: Stores) -> None:
        acl = stores.acl
        await acl.insert_grant(grant(), event("acl.granted", "p1/g1/labs.v1"))
        v2 = [{"segment": "labs", "key_version": 1}, {"segment": "labs", "key_version": 2}]
        added = event("acl.granted", "p1/g1/labs.v2")
        assert not await acl.add_key_versions("p2", "g1", v2, added)
        assert await acl.add_key_versions("p1", "g1", v2, added)
        assert not await acl.add_key_versions("p1", "g1", v2, added)  # a retry
        held = (await acl.get_grant("p1", "g1") or {})["key_versions"]
        assert sorted((k["segment"], k["key_version"]) for k in held) == [("labs", 1), ("labs", 2)]
        assert await stores.outbox() == ["acl.granted:p1/g1/labs.v1", "acl.granted:p1/g1/labs.v2"]

    async def test_a_revocation_applies_once_and_ends_key_version_adds(
        self, stores: Stores
    ) -> None:
        acl = stores.acl
        await acl.insert_grant(grant(), event("acl.granted", "g1"))
        by = {"revoked_at": T0, "revoked_by": "p1", "revoked_on_behalf_of": None}
        assert not await acl.revoke_grant("p2", "g1", by, event("acl.revoked", "p2/g1"))
        assert await acl.revoke_grant("p1", "g1", by, event("acl.revoked", "p1/g1"))
        assert not await acl.revoke_grant("p1", "g1", by, event("acl.revoked", "p1/g1"))
        assert not await acl.revoke_grant("p1", "g1", by, event("acl.revoked", "p1/g1#2"))
        doc = await acl.get_grant("p1", "g1") or {}
        assert (doc["status"], doc["revoked_by"], doc["revoked_at"]) == ("revoked", "p1", T0)
        v3 = [{"segment": "labs", "key_version": 3}]
        assert not await acl.add_key_versions("p1", "g1", v3, event("acl.granted", "v3"))
        assert await stores.outbox() == ["acl.granted:g1", "acl.revoked:p1/g1"]

    # ---------------------------------------------------------------- patient keys

    async def test_rotation_moves_each_segment_up_with_one_event_each(self, stores: Stores) -> None:
        acl = stores.acl
        assert await acl.patient("p1") == {"_id": "p1"}

        def events(new: dict[str, int]) -> list[Document]:
            return [event("key.rotated", f"p1/{s}/v{v}") for s, v in new.items()]

        assert await acl.rotate("p1", ["labs"], events) == {"labs": 2}
        assert await acl.rotate("p1", ["labs", "notes"], events) == {"labs": 3, "notes": 2}
        await acl.set_patient_fields("p1", {"emergency_segments": ["labs"]})
        doc = await acl.patient("p1")
        assert doc["versions"] == {"labs": 3, "notes": 2}
        assert doc["emergency_segments"] == ["labs"]
        assert await acl.patient("p2") == {"_id": "p2"}
        assert await stores.outbox() == [
            "key.rotated:p1/labs/v2",
            "key.rotated:p1/labs/v3",
            "key.rotated:p1/notes/v2",
        ]

    async def test_a_rotation_whose_event_id_is_taken_writes_nothing(self, stores: Stores) -> None:
        acl = stores.acl

        def same(new: dict[str, int]) -> list[Document]:
            return [event("key.rotated", "fixed")]

        assert await acl.rotate("p1", ["labs"], same) == {"labs": 2}
        with pytest.raises(Duplicate):
            await acl.rotate("p1", ["labs"], same)
        assert (await acl.patient("p1"))["versions"] == {"labs": 2}
        assert await stores.outbox() == ["key.rotated:fixed"]

    async def test_patient_fields_are_set_without_events(self, stores: Stores) -> None:
        acl = stores.acl
        await acl.set_patient_fields("p1", {"signed_keys": {"v": 1}})
        await acl.set_patient_fields("p1", {"emergency_segments": ["notes"]})
        await acl.set_patient_fields("p1", {"signed_keys": {"v": 2}})
        doc = await acl.patient("p1")
        assert (doc["signed_keys"], doc["emergency_segments"]) == ({"v": 2}, ["notes"])
        assert await stores.outbox() == []

    # ---------------------------------------------------------------- delegations

    async def test_a_delegation_is_written_replaced_and_ended_with_events(
        self, stores: Stores
    ) -> None:
        acl = stores.acl
        assert await acl.put_delegation(delegation(), event("delegation.changed", "a"))
        wider = delegation(segments=["labs", "notes"])
        assert await acl.put_delegation(wider, event("delegation.changed", "b"))
        ended = delegation(active=False)
        assert not await acl.put_delegation(ended, event("delegation.changed", "b"))  # retry
        assert await acl.get_delegation("p1", "u_care") == wider
        assert await acl.put_delegation(ended, event("delegation.changed", "c"))
        assert await acl.get_delegation("p1", "u_care") == ended
        await acl.put_delegation(delegation("u_aunt"), event("delegation.changed", "d"))
        await acl.put_delegation(delegation(patient="p2"), event("delegation.changed", "e"))
        assert [d["_id"] for d in await acl.delegations_of("p1")] == ["p1/u_aunt", "p1/u_care"]
        assert await acl.get_delegation("p3", "u_care") is None
        assert len(await stores.outbox()) == 5

    async def test_both_stores_share_one_outbox(self, stores: Stores) -> None:
        await stores.committed()
        assert await stores.acl.insert_grant(grant(), event("acl.granted", "g1"))
        assert await stores.outbox() == ["acl.granted:g1", "record.uploaded:p1/r1"]
        # the record's event id is taken for the ACL store too
        assert not await stores.acl.insert_grant(grant("g2"), event("record.uploaded", "p1/r1"))


class TestMemoryOwnerStores(OwnerStoreContract):
    @pytest.fixture
    async def stores(self) -> AsyncIterator[Stores]:
        records, acl = memory_stores()

        async def outbox() -> list[str]:
            return sorted(records.outbox)

        yield Stores(records, acl, outbox)


@pytest.mark.e2e
class TestMongoOwnerStores(OwnerStoreContract):
    @pytest.fixture
    async def stores(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[Stores]:
        records, acl = MongoRecordStore(mongo_db), MongoAclStore(mongo_db)
        await records.ensure_indexes()
        await acl.ensure_indexes()

        async def outbox() -> list[str]:
            return sorted([d["_id"] async for d in mongo_db[OUTBOX].find({}, {"_id": 1})])

        yield Stores(records, acl, outbox)

"""The SRS node store contract (srs.store.Store), run against memory and MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from phr.service.mongo import Document
from srs.memory import MemoryStore
from srs.models import (
    Delegation,
    GrantInfo,
    KeyGrant,
    PendingGrant,
    RecordInfo,
    SealedKfrag,
    SegmentCapsule,
    UserInfo,
)
from srs.mongo_store import MongoStore
from srs.store import Store

#: whole milliseconds: what a BSON date keeps
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def grant(gid: str = "g1", patient: str = "p1") -> GrantInfo:
    return GrantInfo(
        grant_id=gid,
        patient_id=patient,
        segments=("labs", "notes"),
        threshold=2,
        granted_by=patient,
        grantee_user_id="u_doc",
        expires_at=T0 + timedelta(days=30),
        key_versions=frozenset({("labs", 1), ("notes", 1)}),
        created_at=T0,
    )


def key_grant(gid: str = "g1", segment: str = "labs", version: int = 1) -> KeyGrant:
    return KeyGrant(
        gid, "p1", segment, version, {"grant_id": gid}, SealedKfrag(b"kfrag-" + gid.encode())
    )


def pending(eid: str, grant_id: str, at: int, patient: str = "p1") -> PendingGrant:
    return PendingGrant(eid, patient, grant_id, {"grant_id": grant_id}, T0 + timedelta(seconds=at))


class SrsStoreContract:
    """Every implementation of srs.store.Store passes these; subclasses supply ``store``."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        raise NotImplementedError
        yield

    async def test_users_are_replaced_but_a_revocation_is_final(self, store: Store) -> None:
        assert await store.get_user("u1") is None
        await store.put_user(UserInfo("u1", "doctor", "fp1", org="o1", dept="icu"))
        await store.revoke_user("u1")
        await store.put_user(UserInfo("u1", "nurse", "fp2", org="o2"))
        assert await store.get_user("u1") == UserInfo("u1", "nurse", "fp2", "o2", None, True)

    async def test_a_revocation_of_an_unknown_user_is_kept(self, store: Store) -> None:
        await store.revoke_user("u9")
        got = await store.get_user("u9")
        assert got is not None and got.revoked
        await store.put_user(UserInfo("u9", "doctor", "fp9"))
        assert (await store.get_user("u9") or got).revoked

    async def test_delegations_by_patient_and_active_ones_by_delegate(self, store: Store) -> None:
        await store.put_delegation(Delegation("d1", "p1", "u_care", ("labs",), True))
        await store.put_delegation(Delegation("d2", "p2", "u_care", (), True))
        await store.put_delegation(Delegation("d3", "p3", "u_care", (), False))
        await store.put_delegation(Delegation("d4", "p1", "u_other", (), True))
        assert await store.patients_delegating_to("u_care") == ["p1", "p2"]
        await store.put_delegation(Delegation("d2", "p2", "u_care", (), False))  # ended
        assert await store.patients_delegating_to("u_care") == ["p1"]
        mine = sorted(await store.delegations("p1"), key=lambda d: d.delegation_id)
        assert mine == [
            Delegation("d1", "p1", "u_care", ("labs",), True),
            Delegation("d4", "p1", "u_other", (), True),
        ]

    async def test_a_grant_and_its_key_grants_read_back_whole(self, store: Store) -> None:
        g = grant()
        await store.put_grant(g, [key_grant(), key_grant(segment="notes")])
        assert await store.get_grant("p1", "g1") == g
        assert await store.key_grant("p1", "g1", "labs", 1) == key_grant()
        assert await store.key_grant("p1", "g1", "labs", 2) is None
        assert await store.count_key_grants("p1", "g1") == 2
        assert [g.grant_id for g in await store.grants_to_user("u_doc")] == ["g1"]
        assert [x.grant_id for x in await store.grants_for_patient("p1")] == ["g1"]

    async def test_a_revoked_grant_loses_its_kfrags_and_stays_revoked(self, store: Store) -> None:
        await store.put_grant(grant(), [key_grant(), key_grant(segment="notes")])
        await store.add_pending(pending("e1", "g1", 0))
        removed = await store.revoke_grant("p1", "g1", at=T0, reason="ended")
        assert removed == 2
        got = await store.get_grant("p1", "g1")
        assert got is not None and got.revoked_at == T0 and got.revoked_reason == "ended"
        assert got.key_versions == frozenset()
        assert await store.count_key_grants("p1", "g1") == 0
        assert await store.pending_for_patient("p1") == []
        assert await store.grants_to_user("u_doc") == []
        later = T0 + timedelta(hours=1)
        assert await store.revoke_grant("p1", "g1", at=later, reason="again") == 0
        assert (await store.get_grant("p1", "g1") or got).revoked_at == T0  # the first one stays

    async def test_revoking_an_unknown_grant_leaves_a_tombstone(self, store: Store) -> None:
        n = await store.revoke_grant("p1", "g7", at=T0, reason="r", segments=("labs",))
        assert n == 0
        tomb = await store.get_grant("p1", "g7")
        assert tomb is not None and tomb.revoked and tomb.segments == ("labs",)
        assert [g.grant_id for g in await store.grants_for_patient("p1")] == ["g7"]

    async def test_grants_of_a_patient_come_in_id_order(self, store: Store) -> None:
        for gid in ("g3", "g1", "g2"):
            await store.put_grant(grant(gid), [])
        await store.put_grant(grant("g0", patient="p2"), [])
        assert [g.grant_id for g in await store.grants_for_patient("p1")] == ["g1", "g2", "g3"]

    async def test_pending_grants_in_arrival_order_and_dropped(self, store: Store) -> None:
        await store.add_pending(pending("e2", "g2", 5))
        await store.add_pending(pending("e1", "g1", 1))
        await store.add_pending(pending("e3", "g1", 9))
        await store.add_pending(pending("e4", "g4", 0, patient="p2"))
        assert [p.event_id for p in await store.pending_for_patient("p1")] == ["e1", "e2", "e3"]
        await store.drop_pending("e2")
        await store.drop_pending_of_grant("p1", "g1")
        assert await store.pending_for_patient("p1") == []
        assert [p.event_id for p in await store.pending_for_patient("p2")] == ["e4"]

    async def test_key_versions_only_move_forward(self, store: Store) -> None:
        await store.set_key_version("p1", "labs", 3)
        await store.set_key_version("p1", "labs", 2)  # a redelivered older rotation
        await store.set_key_version("p1", "notes", 1)
        await store.set_key_version("p2", "labs", 9)
        assert await store.key_versions("p1") == {"labs": 3, "notes": 1}

    async def test_a_record_deletion_survives_a_late_upload_event(self, store: Store) -> None:
        seg = SegmentCapsule("labs", 1, "capsule-b64")
        await store.put_record(RecordInfo("r1", "p1", (seg,), uploaded_at=T0))
        assert await store.get_record("p1", "r1") == RecordInfo("r1", "p1", (seg,), T0, None)
        await store.delete_record("p1", "r1", T0 + timedelta(minutes=1))
        await store.put_record(RecordInfo("r1", "p1", (seg,), uploaded_at=T0))
        got = await store.get_record("p1", "r1")
        assert got is not None and got.deleted_at == T0 + timedelta(minutes=1)
        await store.delete_record("p1", "r2", T0)  # deleted before its upload arrived
        assert await store.get_record("p1", "r2") == RecordInfo("r2", "p1", (), None, T0)

    async def test_rejections_are_counted_once_per_event(self, store: Store) -> None:
        await store.record_rejection("e1", "acl.granted", "bad kfrag", T0)
        await store.record_rejection("e1", "acl.granted", "bad kfrag", T0)
        await store.record_rejection("e2", "acl.granted", "unknown author", T0)
        assert await store.count_rejections() == 2

    async def test_ids_are_scoped_by_patient(self, store: Store) -> None:
        await store.put_grant(grant("g1", "p1"), [key_grant()])
        await store.put_grant(grant("g1", "p2"), [])
        await store.revoke_grant("p2", "g1", at=T0, reason="mine")
        mine = await store.get_grant("p1", "g1")
        assert mine is not None and not mine.revoked
        assert await store.count_key_grants("p1", "g1") == 1
        assert await store.owned_by_another("grant", "g1", "p1")
        assert not await store.owned_by_another("grant", "g2", "p1")
        await store.put_record(RecordInfo("r1", "p1", ()))
        assert not await store.owned_by_another("record", "r1", "p1")
        assert await store.owned_by_another("record", "r1", "p3")
        with pytest.raises(ValueError):
            await store.put_grant(grant("g5", "p1"), [key_grant("g6")])

    async def test_a_breakglass_window_is_per_requester_and_patient(self, store: Store) -> None:
        assert await store.breakglass_opened_at("u1", "p1") is None
        await store.open_breakglass("u1", "p1", T0, "unconscious")
        assert await store.breakglass_opened_at("u1", "p1") == T0
        assert await store.breakglass_opened_at("u1", "p2") is None
        assert await store.breakglass_opened_at("u2", "p1") is None


class TestMemorySrsStore(SrsStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        yield MemoryStore()


@pytest.mark.e2e
class TestMongoSrsStore(SrsStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[Store]:
        store = MongoStore(mongo_db)
        await store.ensure_indexes()
        yield store

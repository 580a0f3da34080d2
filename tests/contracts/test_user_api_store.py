"""user-api's store contract (user_api.store.Store), run against memory and MongoDB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked, SegmentKeyGrant
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from user_api.memory import MemoryStore
from user_api.mongo_store import MongoStore
from user_api.store import Store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def who(sub: str, role: str = "doctor", org: str | None = "org-1") -> Principal:
    return Principal(sub=sub, role=role, issuer="kgc", jti="j", expires_at=0, org=org)


def granted(gid: str = "g1", patient: str = "p1", **kw: Any) -> AclGranted:
    fields: dict[str, Any] = {
        "grant_id": gid,
        "patient_id": patient,
        "grantee_user_id": "doc",
        "segments": ["labs", "notes"],
        "threshold": 2,
        "granted_by": patient,
        "key_grants": [key(1)],
    }
    return AclGranted(**(fields | kw))


def key(version: int, segment: str = "labs") -> SegmentKeyGrant:
    return SegmentKeyGrant(segment=segment, key_version=version, signed_grant={}, sealed_kfrags={})


def revoked(gid: str = "g1", patient: str = "p1") -> AclRevoked:
    return AclRevoked(grant_id=gid, patient_id=patient, revoked_by=patient)


def breakglass(node: str, segments: list[str], expires: int = 900, **kw: Any) -> AccessBreakglass:
    fields: dict[str, Any] = {
        "request_id": "q1",
        "patient_id": "p1",
        "record_id": "r1",
        "requester_id": "doc",
        "segments": segments,
        "reason": "unconscious",
        "expires_in_s": expires,
        "node_id": node,
    }
    return AccessBreakglass(**(fields | kw))


class UserApiStoreContract:
    """Every implementation of user_api.store.Store passes these."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        raise NotImplementedError
        yield

    async def test_a_grant_reaches_its_grantee_only(self, store: Store) -> None:
        await store.put_grant(granted())
        [view] = await store.grants_for(who("doc"))
        assert (view.grant_id, view.patient_id) == ("g1", "p1")
        assert view.segments == frozenset({"labs", "notes"}) and not view.revoked
        assert await store.grants_for(who("other")) == []
        assert await store.grants_for(who("doc"), "p2") == []
        assert [v.grant_id for v in await store.grants_for(who("doc"), "p1")] == ["g1"]

    async def test_a_group_grant_is_offered_to_its_role_and_to_any_when_unset(
        self, store: Store
    ) -> None:
        doctors = {"role": "doctor", "org": "org-1"}
        await store.put_grant(granted("g1", grantee_user_id=None, grantee_group=doctors))
        await store.put_grant(granted("g2", grantee_user_id=None, grantee_group={"org": "org-1"}))
        got = {v.grant_id for v in await store.grants_for(who("someone", "doctor"))}
        assert got == {"g1", "g2"}
        assert {v.grant_id for v in await store.grants_for(who("n", "nurse"))} == {"g2"}

    async def test_a_grant_sent_again_adds_its_key_versions_and_new_terms(
        self, store: Store
    ) -> None:
        await store.put_grant(granted())
        end = T0 + timedelta(days=1)
        await store.put_grant(granted(key_grants=[key(2)], expires_at=end, segments=["labs"]))
        [view] = await store.grants_for(who("doc"))
        assert view.segments == frozenset({"labs"}) and view.expires_at == end

    async def test_a_revoked_grant_is_listed_only_when_asked_and_never_comes_back(
        self, store: Store
    ) -> None:
        await store.put_grant(granted())
        assert await store.revoke_grant(revoked()) is True
        assert await store.grants_for(who("doc")) == []
        [view] = await store.grants_for(who("doc"), include_revoked=True)
        assert view.revoked and view.revoked_at is not None
        await store.put_grant(granted(key_grants=[key(2)]))  # a late re-send
        assert await store.grants_for(who("doc")) == []

    async def test_a_revocation_first_leaves_a_stub_the_grant_cannot_undo(
        self, store: Store
    ) -> None:
        assert await store.revoke_grant(revoked()) is True
        await store.put_grant(granted())
        assert await store.grants_for(who("doc")) == []
        assert [v.revoked for v in await store.grants_for(who("doc"), include_revoked=True)] == [
            True
        ]

    async def test_grant_ids_are_per_patient(self, store: Store) -> None:
        await store.put_grant(granted("g1", "p1"))
        # another patient's revocation of the same id reaches nothing and writes nothing
        assert await store.revoke_grant(revoked("g1", "p2")) is False
        assert [v.patient_id for v in await store.grants_for(who("doc"))] == ["p1"]
        assert [v.patient_id for v in await store.grants_for(who("doc"), include_revoked=True)] == [
            "p1"
        ]
        await store.put_grant(granted("g1", "p2"))
        assert sorted(v.patient_id for v in await store.grants_for(who("doc"))) == ["p1", "p2"]

    async def test_rejections_count_once_per_event(self, store: Store) -> None:
        assert await store.count_rejections() == 0
        await store.record_rejection("e1", "acl.granted", "bad signature")
        await store.record_rejection("e1", "acl.granted", "again")
        await store.record_rejection("e2", "acl.revoked", "unknown producer")
        assert await store.count_rejections() == 2

    async def test_breakglass_announcements_merge_per_request(self, store: Store) -> None:
        await store.note_breakglass(breakglass("srs-1", ["labs"], 600), T0)
        await store.note_breakglass(breakglass("srs-2", ["labs", "notes"], 900), T0 + timedelta(1))
        await store.note_breakglass(
            breakglass("srs-3", ["labs"], request_id="q2", reason="other"), T0 + timedelta(2)
        )
        await store.note_breakglass(breakglass("srs-1", ["labs"], patient_id="p2"), T0)
        first, second = await store.breakglass_of("p1")
        assert first["request_id"] == "q2" and first["reason"] == "other"
        assert second["request_id"] == "q1" and second["reason"] == "unconscious"
        assert second["first_seen"] == T0 and second["review"] == "pending"
        assert second["segments"] == ["labs", "notes"]
        assert second["nodes"] == ["srs-1", "srs-2"] and second["expires_in_s"] == 900
        assert [e["request_id"] for e in await store.breakglass_of("p1", limit=1)] == ["q2"]
        assert [e["patient_id"] for e in await store.breakglass_of("p2")] == ["p2"]


class TestMemoryUserApiStore(UserApiStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        yield MemoryStore()


@pytest.mark.e2e
class TestMongoUserApiStore(UserApiStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[Store]:
        store = MongoStore(mongo_db)
        await store.ensure_indexes()
        yield store

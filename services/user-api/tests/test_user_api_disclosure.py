"""What one patient's listing tells a data user: grant statuses and why segments are withheld."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from phr.identity.tokens import Principal
from user_api.grants import GrantView
from user_api.search import SearchService
from user_api.upstream import RecordSummary

NOW = datetime.now(UTC)


def grant(**kw: Any) -> GrantView:
    base: dict[str, Any] = {
        "grant_id": "g",
        "patient_id": "p1",
        "segments": frozenset({"labs"}),
        "grantee_user_id": "u1",
    }
    return GrantView(**(base | kw))


class FakeStore:
    def __init__(self, grants: list[GrantView]) -> None:
        self.grants = grants
        self.asked: list[bool] = []

    async def grants_for(
        self, caller: Principal, patient_id: str | None = None, *, include_revoked: bool = False
    ) -> list[GrantView]:
        self.asked.append(include_revoked)
        return [g for g in self.grants if include_revoked or not g.revoked]


class FakeUpstream:
    async def records_of(self, patient_id: str, limit: int) -> list[RecordSummary]:
        segments = {"labs": 1, "conditions": 1, "insurance": 1, "notes": 1}
        return [RecordSummary("r1", patient_id, NOW - timedelta(days=1), segments)]


def service(grants: list[GrantView]) -> SearchService:
    return SearchService(FakeStore(grants), FakeUpstream(), max_records=10)  # type: ignore[arg-type]


def caller(sub: str = "u1") -> Principal:
    return Principal(sub=sub, role="doctor", issuer="kgc", jti="j", expires_at=0, org="o1")


async def test_withheld_segments_say_why() -> None:
    grants = [
        grant(grant_id="active", segments=frozenset({"labs"})),
        grant(grant_id="old", segments=frozenset({"conditions"}), revoked=True),
        grant(grant_id="ended", segments=frozenset({"notes"}), expires_at=NOW - timedelta(hours=1)),
    ]
    detail = await service(grants).shared_detail(caller(), "p1")
    assert {g.grant_id: g.status for g in detail.grants} == {
        "active": "active",
        "old": "revoked",
        "ended": "expired",
    }
    assert [(r.record_id, r.segments) for r in detail.records] == [("r1", {"labs": 1})]
    assert {w.segment: w.reason for w in detail.withheld} == {
        "conditions": "revoked",
        "notes": "expired",
        "insurance": "not-granted",
    }


async def test_a_patient_who_never_granted_reveals_nothing() -> None:
    detail = await service([grant(grantee_user_id="someone-else")]).shared_detail(caller(), "p1")
    assert (detail.grants, detail.records, detail.withheld) == ([], [], [])


async def test_a_grant_not_yet_valid_is_pending() -> None:
    detail = await service([grant(not_before=NOW + timedelta(days=1))]).shared_detail(
        caller(), "p1"
    )
    assert detail.grants[0].status == "pending"
    assert {w.segment: w.reason for w in detail.withheld}["labs"] == "not-yet-valid"

"""Pure rules of user-api: grant scope, and the t-of-N combination of node answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phr.client.srs import NodeAnswerInvalid, verify_node_answer
from phr.crypto.signing import SigningKey, b64u_encode
from phr.identity.tokens import Principal
from user_api.fanout import NodeAnswer, combine
from user_api.grants import GrantView, scope_for
from user_api.store import MongoStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def principal(sub: str = "u1", role: str = "doctor", org: str | None = "o1") -> Principal:
    return Principal(sub=sub, role=role, issuer="kgc", jti="j", expires_at=0, org=org)


def grant(**kw: Any) -> GrantView:
    base: dict[str, Any] = {
        "grant_id": "g",
        "patient_id": "p1",
        "segments": frozenset({"labs"}),
        "grantee_user_id": "u1",
    }
    return GrantView(**(base | kw))


class TestScope:
    def test_user_grant_applies_to_its_grantee_only(self) -> None:
        assert scope_for(principal(), [grant()], now=NOW).patient_ids == ["p1"]
        assert scope_for(principal("u2"), [grant()], now=NOW).patient_ids == []

    @pytest.mark.parametrize(
        "change",
        [
            {"revoked": True},
            {"expires_at": NOW},
            {"not_before": NOW + timedelta(seconds=1)},
            {"emergency": True},
        ],
    )
    def test_inactive_or_emergency_grants_do_not_scope(self, change: dict[str, Any]) -> None:
        assert scope_for(principal(), [grant(**change)], now=NOW).patient_ids == []

    def test_group_grants_need_staff_and_every_attribute(self) -> None:
        g = grant(grantee_user_id=None, grantee_group={"role": "doctor", "org": "o1"})
        assert scope_for(principal(), [g], now=NOW).segments("p1") == {"labs"}
        assert scope_for(principal(org="o2"), [g], now=NOW).patient_ids == []
        patient = principal(role="patient", org=None)
        open_group = grant(grantee_user_id=None, grantee_group={"role": "patient"})
        assert scope_for(patient, [open_group], now=NOW).patient_ids == []
        unknown = grant(grantee_user_id=None, grantee_group={"colour": "blue"})
        assert scope_for(principal(), [unknown], now=NOW).patient_ids == []

    def test_data_from_limits_records(self) -> None:
        scope = scope_for(principal(), [grant(data_from=NOW)], now=NOW)
        assert scope.needs_upload_time("p1")
        assert scope.allows("p1", "labs", NOW)
        assert not scope.allows("p1", "labs", NOW - timedelta(seconds=1))
        assert not scope.allows("p1", "labs", None)
        assert not scope.allows("p1", "notes", NOW)


def cfrag(node: str, segment: str = "labs", grant_id: str = "g1", t: int = 2) -> dict[str, Any]:
    return {
        "segment": segment,
        "grant_id": grant_id,
        "key_version": 1,
        "cfrag": "c-" + node,
        "signed_grant": {"grant": {"threshold": t}, "signature": "s"},
        "node_id": node,
        "breakglass": False,
    }


def answer(node: str, granted: list[dict[str, Any]], denied: list[dict[str, Any]]) -> NodeAnswer:
    return NodeAnswer(node, {"node_id": node, "granted": granted, "denied": denied}, 1.0)


class TestCombine:
    def test_t_nodes_on_one_grant_grant_a_segment(self) -> None:
        out = combine(
            [
                answer("srs-1", [cfrag("srs-1")], []),
                answer("srs-2", [cfrag("srs-2")], []),
                answer("srs-3", [], [{"segment": "labs", "reason": "no grant"}]),
            ],
            ["labs"],
            2,
        )
        assert [c["node_id"] for c in out.granted["labs"].cfrags] == ["srs-1", "srs-2"]
        assert out.denied == []

    def test_fewer_than_t_is_denied_with_the_nodes_reasons(self) -> None:
        out = combine(
            [
                answer("srs-1", [cfrag("srs-1")], []),
                answer("srs-2", [], [{"segment": "labs", "reason": "grant revoked"}]),
            ],
            ["labs"],
            2,
        )
        assert out.granted == {}
        assert out.denied == [
            {
                "segment": "labs",
                "reason": "grant revoked",
                "nodes": {"srs-1": "granted", "srs-2": "grant revoked"},
            }
        ]

    def test_cfrags_on_different_grants_do_not_add_up(self) -> None:
        out = combine(
            [
                answer("srs-1", [cfrag("srs-1", grant_id="g1")], []),
                answer("srs-2", [cfrag("srs-2", grant_id="g2")], []),
            ],
            ["labs"],
            2,
        )
        assert "labs" not in out.granted

    def test_a_grant_with_a_higher_threshold_needs_more(self) -> None:
        answers = [answer(n, [cfrag(n, t=3)], []) for n in ("srs-1", "srs-2")]
        assert "labs" not in combine(answers, ["labs"], 2).granted

    def test_a_node_cannot_speak_for_another(self) -> None:
        answers = [answer("srs-1", [cfrag("srs-1"), cfrag("srs-2")], [])]
        assert "labs" not in combine(answers, ["labs"], 2).granted


class TestNodeAnswer:
    def signed(self, key: SigningKey, **body: Any) -> dict[str, Any]:
        payload = {
            "format": "phr-srs-reencrypt/v1",
            "node_id": "srs-1",
            "request_id": "r1",
            "granted": [],
        } | body
        return payload | {"node_signature": b64u_encode(key.sign_json(payload))}

    def test_signed_by_the_node_and_echoing_the_request(self) -> None:
        key = SigningKey.generate()
        body = self.signed(key)
        assert verify_node_answer("srs-1", key.verify_key, body, {"request_id": "r1"}) == body

    @pytest.mark.parametrize(
        "mutation", ["other-key", "other-request", "other-node", "tampered", "unsigned"]
    )
    def test_anything_else_is_refused(self, mutation: str) -> None:
        key = SigningKey.generate()
        body = self.signed(SigningKey.generate() if mutation == "other-key" else key)
        expected = {"request_id": "r2" if mutation == "other-request" else "r1"}
        node = "srs-2" if mutation == "other-node" else "srs-1"
        if mutation == "tampered":
            body["granted"] = [{"segment": "insurance"}]
        if mutation == "unsigned":
            body.pop("node_signature")
        with pytest.raises(NodeAnswerInvalid):
            verify_node_answer(node, key.verify_key, body, expected)


class _Collection:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.finds = 0

    async def insert_one(self, doc: dict[str, Any]) -> None:
        self.docs[doc["_id"]] = dict(doc)

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.finds += 1
        return self.docs.get(query["_id"])


class TestRecentRequests:
    async def test_recent_requests_skip_mongo_older_ones_come_from_it(self) -> None:
        collections: dict[str, _Collection] = {}

        def collection(_: Any, name: str, **__: Any) -> _Collection:
            return collections.setdefault(name, _Collection())

        db: Any = type("Db", (), {"__getitem__": collection, "get_collection": collection})()
        store = MongoStore(db, recent=2)
        for i in range(3):
            await store.put_request({"_id": f"r{i}", "requester_id": "u"})
        requests = collections["access_requests"]
        assert set(requests.docs) == {"r0", "r1", "r2"}  # every request is written
        assert (await store.get_request("r2") or {})["_id"] == "r2"
        assert (await store.get_request("r1") or {})["_id"] == "r1"
        assert requests.finds == 0  # both from memory
        assert (await store.get_request("r0") or {})["_id"] == "r0"  # evicted: from Mongo
        assert await store.get_request("nope") is None
        assert requests.finds == 2

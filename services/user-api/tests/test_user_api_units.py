"""Pure rules of user-api: grant scope and node answers (the t-of-N count is
phr.client.verifier's, tested in shared/tests/client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phr.client.srs import NodeAnswerInvalid, verify_node_answer
from phr.crypto.signing import SigningKey, b64u_encode
from phr.identity.tokens import Principal
from user_api.grants import GrantView, scope_for

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

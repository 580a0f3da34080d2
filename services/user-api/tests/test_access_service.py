"""user-api's access decision with fakes around it: what t nodes grant gets a URL and the
manifest, what the threshold refused gets neither; the default asks only granted segments."""

from __future__ import annotations

from typing import Any

from phr.api.user import AccessIn
from phr.identity.tokens import Principal
from user_api.access import AccessService
from user_api.fanout import NodeAnswer, NodeFailure, NodeResult
from user_api.grants import GrantView

DOCTOR = Principal(sub="dr", role="doctor", issuer="kgc", jti="j", expires_at=0, org="o1")
MANIFEST = {
    "manifest": {
        "segments": [
            {"name": "labs", "key_version": 1},
            {"name": "notes", "key_version": 1},
        ]
    },
    "signature": "s",
}


def cfrag(node: str, segment: str = "labs") -> dict[str, Any]:
    return {
        "segment": segment,
        "grant_id": "g1",
        "key_version": 1,
        "cfrag": "c-" + node,
        "signed_grant": {"grant": {"threshold": 2}, "signature": "s"},
        "node_id": node,
    }


class Runtime:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def emit(self, type: str, data: Any, **_: Any) -> None:
        self.events.append(type)


class Store:
    def __init__(self, grants: list[GrantView]) -> None:
        self.grants = grants

    async def grants_for(self, caller: Principal, patient_id: str | None = None) -> Any:
        return self.grants


class Upstream:
    def __init__(self) -> None:
        self.presigned: list[list[str]] = []

    async def signed_manifest(self, patient_id: str, record_id: str) -> dict[str, Any]:
        return MANIFEST

    async def presigned_reads(self, keys: list[str], expires_s: int) -> dict[str, str]:
        self.presigned.append(keys)
        return {k: f"http://s3/{k}?X-Amz-Signature=x" for k in keys}


class Fanout:
    def __init__(self, granting: int, nodes: int = 3) -> None:
        self.granting, self.nodes = granting, nodes
        self.asked: list[list[str]] = []

    async def reencrypt(self, token: str, request: Any, **_: Any) -> list[NodeResult]:
        self.asked.append(list(request["segments"]))
        out: list[NodeResult] = []
        for i in range(self.nodes):
            node = f"srs-{i + 1}"
            granted = [cfrag(node, s) for s in request["segments"] if s == "labs"]
            if i >= self.granting:
                denied = [{"segment": s, "reason": "grant revoked"} for s in request["segments"]]
                out.append(NodeAnswer(node, {"granted": [], "denied": denied}, 1.0))
            else:
                out.append(NodeAnswer(node, {"granted": granted, "denied": []}, 1.0))
        return out


def service(granting: int, grants: list[GrantView] | None = None) -> Any:
    up, fan = Upstream(), Fanout(granting)
    svc = AccessService(
        Runtime().emit,
        Store(grants or []),  # type: ignore[arg-type]
        up,  # type: ignore[arg-type]
        fan,  # type: ignore[arg-type]
        threshold=2,
        access_ttl_s=300,
    )
    return svc, up, fan


async def ask(svc: AccessService, segments: list[str] | None) -> Any:
    body = AccessIn(patient_id="p1", record_id="r1", segments=segments)
    return await svc.request_access(DOCTOR, "token", body, correlation_id=None)


async def test_t_granting_nodes_get_a_url_for_that_object_only() -> None:
    svc, up, _ = service(granting=2)
    out = await ask(svc, ["labs", "notes"])
    assert set(out.segments) == {"labs"} and out.signed_manifest == MANIFEST
    assert up.presigned == [["p1/r1/labs/v1"]]
    assert [d["segment"] for d in out.denied] == ["notes"]


async def test_below_the_threshold_no_url_and_no_manifest() -> None:
    svc, up, _ = service(granting=1)
    out = await ask(svc, ["labs"])
    assert out.segments == {} and out.signed_manifest is None
    assert up.presigned == []  # nothing presigned for a refused caller
    assert out.denied[0]["reason"] == "grant revoked"


async def test_the_default_asks_only_what_the_caller_holds_grants_for() -> None:
    grants = [
        GrantView(
            grant_id="g1", patient_id="p1", segments=frozenset({"labs"}), grantee_user_id="dr"
        )
    ]
    svc, _, fan = service(granting=3, grants=grants)
    out = await ask(svc, None)
    assert fan.asked == [["labs"]] and out.denied == []
    # with nothing in the index every segment is asked; the nodes decide
    svc, _, fan = service(granting=3)
    await ask(svc, None)
    assert fan.asked == [["labs", "notes"]]


async def test_a_failed_node_does_not_count() -> None:
    svc, up, fan = service(granting=2)

    async def two_answer(token: str, request: Any, **_: Any) -> list[NodeResult]:
        answers = await Fanout(granting=1, nodes=2).reencrypt(token, request)
        return [*answers, NodeFailure("srs-3", "timeout")]

    fan.reencrypt = two_answer  # type: ignore[method-assign]
    out = await ask(svc, ["labs"])
    assert out.segments == {} and out.signed_manifest is None and up.presigned == []

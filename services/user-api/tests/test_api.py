"""user-api's routes in-process: its real app over a memory store and fake upstreams.

Each route's happy path, a refused caller and a bad body. The grants come in as the
events would bring them (``EventHandlers`` over the memory store); owner-api,
cloud-store and the SRS nodes are fakes answering as they would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from phr.crypto.signing import SigningKey
from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, SegmentKeyGrant
from phr.events.base import EventData
from phr.identity.tokens import TokenSigner
from phr.service.state import AppState
from tests.support.asgi import asgi_client, auth_header, test_authenticator, user_token
from user_api.access import AccessService
from user_api.deps import UserState
from user_api.fanout import NodeAnswer, NodeResult
from user_api.main import create_app
from user_api.memory import MemoryStore
from user_api.search import SearchService
from user_api.settings import Settings
from user_api.upstream import RecordSummary

KGC = SigningKey.generate()
OWNER_API = SigningKey.generate()
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TAG = "ab" * 32
MANIFEST = {
    "manifest": {
        "segments": [{"name": "labs", "key_version": 1}, {"name": "notes", "key_version": 1}]
    },
    "signature": "s",
}


@dataclass
class Upstream:
    """owner-api's record listings and manifests, cloud-store's search and presigning."""

    searched: list[list[str]] = field(default_factory=list)
    presigned: list[list[str]] = field(default_factory=list)

    async def records_of(self, patient_id: str, limit: int) -> list[RecordSummary]:
        return [RecordSummary("r1", patient_id, T0, {"labs": 1, "notes": 1})]

    async def search(
        self, trapdoors: list[str], patient_ids: list[str], limit: int = 1000
    ) -> list[dict[str, str]]:
        self.searched.append(patient_ids)
        return [
            {"patient_id": p, "record_id": "r1", "segment": s}
            for p in patient_ids
            for s in ("labs", "notes")
        ]

    async def signed_manifest(self, patient_id: str, record_id: str) -> dict[str, Any]:
        return MANIFEST

    async def presigned_reads(self, keys: list[str], expires_s: int) -> dict[str, str]:
        self.presigned.append(keys)
        return {k: f"http://s3/{k}?X-Amz-Signature=x" for k in keys}


@dataclass
class Fanout:
    """Three nodes granting what the patient granted (labs), denying the rest."""

    asked: list[list[str]] = field(default_factory=list)

    async def reencrypt(self, token: str, request: Mapping[str, Any], **_: Any) -> list[NodeResult]:
        self.asked.append(list(request["segments"]))
        out: list[NodeResult] = []
        for node in ("srs-1", "srs-2", "srs-3"):
            granted = [
                {
                    "segment": s,
                    "grant_id": "g1",
                    "key_version": 1,
                    "cfrag": "c-" + node,
                    "signed_grant": {"grant": {"threshold": 2}, "signature": "s"},
                    "node_id": node,
                }
                for s in request["segments"]
                if s == "labs"
            ]
            denied = [
                {"segment": s, "reason": "not granted"} for s in request["segments"] if s != "labs"
            ]
            out.append(NodeAnswer(node, {"granted": granted, "denied": denied}, 1.0))
        return out


@dataclass
class UserApi:
    http: httpx.AsyncClient
    store: MemoryStore
    upstream: Upstream
    fanout: Fanout
    events: list[str]

    def doctor(self) -> dict[str, str]:
        return auth_header(user_token(KGC, "dr", "doctor", org="org-1"))

    def patient(self, sub: str = "p1") -> dict[str, str]:
        return auth_header(user_token(KGC, sub, "patient"))

    def service(self) -> dict[str, str]:
        return auth_header(TokenSigner(OWNER_API, "owner-api").mint_service("user-api"))


@pytest.fixture
async def api() -> AsyncIterator[UserApi]:
    store = MemoryStore()
    key = SegmentKeyGrant(segment="labs", key_version=1, signed_grant={}, sealed_kfrags={})
    await store.put_grant(
        AclGranted(
            grant_id="g1",
            patient_id="p1",
            grantee_user_id="dr",
            segments=["labs"],
            threshold=2,
            granted_by="p1",
            key_grants=[key],
        )
    )
    await store.note_breakglass(
        AccessBreakglass(
            request_id="q1",
            patient_id="p1",
            record_id="r1",
            requester_id="dr",
            segments=["notes"],
            reason="unconscious",
            expires_in_s=900,
            node_id="srs-1",
        ),
        T0,
    )
    events: list[str] = []

    async def emit(
        type: str, data: EventData, *, subject: str, correlation_id: str | None = None
    ) -> None:
        events.append(type)

    upstream, fanout = Upstream(), Fanout()
    state = UserState(
        store=store,
        search=SearchService(store, upstream, max_records=100),  # type: ignore[arg-type]
        access=AccessService(
            emit,
            store,
            upstream,
            fanout,
            threshold=2,
            access_ttl_s=300,  # type: ignore[arg-type]
        ),
    )
    auth = test_authenticator("user-api", KGC, SigningKey.generate(), {"owner-api": OWNER_API})
    async with asgi_client(create_app(Settings()), AppState(state, authenticator=auth)) as http:
        yield UserApi(http, store, upstream, fanout, events)


async def test_search_answers_only_granted_segments(api: UserApi) -> None:
    r = await api.http.post("/v1/search", json={"trapdoors": [TAG]}, headers=api.doctor())
    assert r.status_code == 200, r.text
    assert r.json()["matches"] == [{"patient_id": "p1", "record_id": "r1", "segment": "labs"}]
    assert api.upstream.searched == [["p1"]]


async def test_shared_lists_the_granting_patient_and_what_is_withheld(api: UserApi) -> None:
    r = await api.http.get("/v1/shared", headers=api.doctor())
    assert r.status_code == 200, r.text
    [patient] = r.json()["patients"]
    assert patient["patient_id"] == "p1" and patient["segments"] == ["labs"]
    assert [rec["segments"] for rec in patient["records"]] == [{"labs": 1}]
    r = await api.http.get("/v1/shared/p1", headers=api.doctor())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [g["grant_id"] for g in body["grants"]] == ["g1"]
    assert [(w["segment"], w["reason"]) for w in body["withheld"]] == [("notes", "not-granted")]


async def test_access_gets_urls_for_what_t_nodes_granted(api: UserApi) -> None:
    body = {"patient_id": "p1", "record_id": "r1", "segments": ["labs", "notes"]}
    r = await api.http.post("/v1/access", json=body, headers=api.doctor())
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["segments"]) == {"labs"} and out["signed_manifest"] == MANIFEST
    assert api.upstream.presigned == [["p1/r1/labs/v1"]]
    assert api.events == ["access.requested"]


async def test_the_patient_reads_his_breakglass_accesses(api: UserApi) -> None:
    r = await api.http.get("/v1/breakglass", params={"patient_id": "p1"}, headers=api.patient())
    assert r.status_code == 200, r.text
    [entry] = r.json()["accesses"]
    assert (entry["requester_id"], entry["segments"], entry["review"]) == (
        "dr",
        ["notes"],
        "pending",
    )
    other = await api.http.get(
        "/v1/breakglass", params={"patient_id": "p1"}, headers=api.patient("p2")
    )
    assert other.status_code == 403, other.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/search", {"trapdoors": [TAG]}),
        ("GET", "/v1/shared", None),
        ("GET", "/v1/shared/p1", None),
        ("POST", "/v1/access", {"patient_id": "p1", "record_id": "r1"}),
    ],
)
async def test_anonymous_forged_and_service_callers_are_refused(
    api: UserApi, method: str, path: str, body: Any
) -> None:
    forged = auth_header(user_token(SigningKey.generate(), "dr", "doctor"))
    for headers, status in (({}, 401), (forged, 401), (api.service(), 403)):
        r = await api.http.request(method, path, json=body, headers=headers)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert api.fanout.asked == [] and api.events == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/search", {"trapdoors": []}),
        ("/v1/search", {"trapdoors": ["NOT-HEX"]}),
        ("/v1/search", {"trapdoors": [TAG], "extra": 1}),
        ("/v1/access", {"patient_id": "p1"}),
        ("/v1/access", {"patient_id": "../p1", "record_id": "r1"}),
        ("/v1/access", {"patient_id": "p1", "record_id": "r1", "segments": []}),
    ],
)
async def test_a_bad_body_is_refused_and_asks_nobody(
    api: UserApi, path: str, body: dict[str, Any]
) -> None:
    r = await api.http.post(path, json=body, headers=api.doctor())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert api.upstream.searched == [] and api.fanout.asked == [] and api.events == []

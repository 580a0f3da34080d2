"""One SRS node's routes in-process: its real app over a memory store (no servers).

Each route's happy path, a refused caller and a bad body; the answer of
``/v1/reencrypt`` is checked the way a reader checks it (``phr.client.srs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from phr.client.srs import verify_node_answer
from phr.crypto.signing import SigningKey
from phr.events.base import EventData
from phr.identity.tokens import TokenSigner
from phr.service.state import AppState
from srs.cache import ReadCache
from srs.deps import SrsState
from srs.handlers import HandlerStats
from srs.main import create_app
from srs.reencrypt import Reencryptor
from srs.settings import Settings
from tests.support.asgi import asgi_client, auth_header, test_authenticator, user_token

from .conftest import DOCTOR, PATIENT, World

KGC = SigningKey.generate()
USER_API = SigningKey.generate()
NODE = "srs-1"


@dataclass
class Node:
    http: httpx.AsyncClient
    world: World
    signing: SigningKey
    audit: list[tuple[str, EventData]]

    def doctor(self) -> dict[str, str]:
        return auth_header(user_token(KGC, DOCTOR, "doctor", org="org-1", dept="cardio"))

    def patient(self) -> dict[str, str]:
        return auth_header(user_token(KGC, PATIENT, "patient"))

    def service(self) -> dict[str, str]:
        return auth_header(TokenSigner(USER_API, "user-api").mint_service("srs"))


@pytest.fixture
async def node(world: World) -> AsyncIterator[Node]:
    await world.setup_basic()
    await world.everywhere(world.granted(segments=("labs",)))
    audit: list[tuple[str, EventData]] = []

    async def emit(type: str, data: EventData, subject: str, cid: str | None) -> Any:
        audit.append((type, data))

    at = world.nodes[NODE]
    signing = SigningKey.generate()
    reencryptor = Reencryptor(
        at.store,
        at.identity,
        signing,
        emit,
        clock=world.clock,
        reads=ReadCache(at.store, at.identity),
    )
    state = SrsState(
        node=at.identity,
        signing_public=signing.verify_key.b64(),
        store=at.store,
        stats=HandlerStats(),
        reencryptor=reencryptor,
    )
    auth = test_authenticator(NODE, KGC, signing, {"user-api": USER_API})
    app_state = AppState(state, authenticator=auth)
    async with asgi_client(create_app(Settings(node_id=NODE)), app_state) as http:
        yield Node(http, world, signing, audit)


def reencrypt_body(**kw: Any) -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "patient_id": PATIENT,
        "record_id": "rec-1",
        "segments": ["labs", "notes"],
    } | kw


async def test_the_node_names_itself_and_its_keys(node: Node) -> None:
    r = await node.http.get("/v1/node")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["node_id"] == NODE
    assert body["ed25519_public"] == node.signing.verify_key.b64()
    assert body["x25519_public"] == node.world.nodes[NODE].identity.secret.public_key().b64()


async def test_a_grantee_gets_a_signed_answer_with_his_granted_segment(node: Node) -> None:
    r = await node.http.post("/v1/reencrypt", json=reencrypt_body(), headers=node.doctor())
    assert r.status_code == 200, r.text
    expected = {"request_id": "req-1", "patient_id": PATIENT, "record_id": "rec-1"}
    body = verify_node_answer(NODE, node.signing.verify_key, r.json(), expected)
    assert body["requester_id"] == DOCTOR
    assert [g["segment"] for g in body["granted"]] == ["labs"]
    assert [d["segment"] for d in body["denied"]] == ["notes"]
    assert [t for t, _ in node.audit] == ["access.decided"]


async def test_reencrypt_refuses_anonymous_forged_and_service_callers(node: Node) -> None:
    forged = auth_header(user_token(SigningKey.generate(), DOCTOR, "doctor"))
    for headers, status in (({}, 401), (forged, 401), (node.service(), 403)):
        r = await node.http.post("/v1/reencrypt", json=reencrypt_body(), headers=headers)
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
    assert node.audit == []


@pytest.mark.parametrize(
    "body",
    [
        reencrypt_body(segments=[]),
        reencrypt_body(extra="field"),
        {k: v for k, v in reencrypt_body().items() if k != "record_id"},
        reencrypt_body(breakglass_reason="x" * 2001),
    ],
)
async def test_a_bad_reencrypt_body_is_refused_and_decides_nothing(
    node: Node, body: dict[str, Any]
) -> None:
    r = await node.http.post("/v1/reencrypt", json=body, headers=node.doctor())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert node.audit == []


async def test_the_patient_and_services_list_his_grants_without_kfrags(node: Node) -> None:
    for headers in (node.patient(), node.service()):
        r = await node.http.get("/v1/grants", params={"patient_id": PATIENT}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["node_id"] == NODE and body["patient_id"] == PATIENT
        assert [g["segments"] for g in body["grants"]] == [["labs"]]
        assert "kfrag" not in r.text


async def test_others_may_not_list_a_patients_grants(node: Node) -> None:
    for headers, status in (({}, 401), (node.doctor(), 403)):
        r = await node.http.get("/v1/grants", params={"patient_id": PATIENT}, headers=headers)
        assert r.status_code == status, r.text
    r = await node.http.get("/v1/grants", headers=node.patient())
    assert r.status_code == 422, r.text

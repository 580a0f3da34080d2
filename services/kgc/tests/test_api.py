"""The KGC's routes in-process: its real app over a memory store (no servers).

Each route's happy path, a refused caller and a bad body; events land in the store's
outbox (what the relay would publish), checked as the ledger would read them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from kgc.main import build_state, create_app
from kgc.memory import MemoryKgcStore
from kgc.operator import ensure_operator
from kgc.settings import Settings
from phr.crypto.export import import_secret_keys
from phr.crypto.keys import UserKeys
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.envelope import Envelope
from phr.identity.tokens import TokenInvalid, TokenVerifier
from phr.service.outbox import signed_events
from phr.service.state import AppState
from tests.support.asgi import asgi_client, auth_header, test_authenticator, user_token
from tests.support.identity import KgcClient, TestUser, bearer, enrol_body

PROBLEM = "application/problem+json"


@dataclass
class Kgc:
    http: httpx.AsyncClient
    client: KgcClient
    store: MemoryKgcStore
    key: SigningKey
    admin: str

    def events(self, type: str) -> list[Envelope]:
        envelopes = [
            Envelope.from_json_bytes(d["envelope"].encode()) for d in self.store.outbox.values()
        ]
        return [e for e in envelopes if e.type == type]


@pytest.fixture
async def kgc(tmp_path: Path) -> AsyncIterator[Kgc]:
    settings = Settings(operator_file=tmp_path / "operator.json")
    key = SigningKey.generate()
    store = MemoryKgcStore()
    auth = test_authenticator("kgc", key, key)
    state = build_state(settings, store, signed_events("kgc", key), auth, key)
    await ensure_operator(state.directory, settings.operator_path(), None)
    material = import_secret_keys(json.loads(settings.operator_path().read_text()))
    operator = TestUser("u_operator", "admin", material.user)
    async with asgi_client(create_app(settings), AppState(state, authenticator=auth)) as http:
        client = KgcClient(http, "http://test")
        yield Kgc(http, client, store, key, await client.login(operator))


async def test_params_are_signed_by_the_kgc(kgc: Kgc) -> None:
    r = await kgc.http.get("/v1/params")
    assert r.status_code == 200
    assert kgc.key.verify_key.b64() in json.dumps(r.json())


async def test_a_patient_enrols_logs_in_and_is_announced(kgc: Kgc) -> None:
    patient = await kgc.client.enrol("patient")
    assert patient.status == "active"
    token = await kgc.client.login(patient)
    r = await kgc.http.get("/v1/whoami", headers=bearer(token))
    assert r.json()["sub"] == patient.user_id
    enrolled = kgc.events("user.enrolled")
    assert patient.user_id in {e.subject for e in enrolled}
    for event in enrolled:
        event.verify(kgc.key.verify_key)


async def test_an_enrolment_with_a_bad_body_or_a_forged_proof_is_refused(kgc: Kgc) -> None:
    r = await kgc.http.post("/v1/users", json={"role": "patient"})
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    forged = enrol_body(UserKeys.generate(), "patient") | {
        "ed25519_public": UserKeys.generate().signing.verify_key.b64()
    }
    r = await kgc.http.post("/v1/users", json=forged)
    assert r.status_code == 400, r.text
    before = len(kgc.store.users)
    keys = UserKeys.generate()
    assert (await kgc.http.post("/v1/users", json=enrol_body(keys, "patient"))).status_code == 201
    again = await kgc.http.post("/v1/users", json=enrol_body(keys, "patient"))
    assert again.status_code == 409
    assert len(kgc.store.users) == before + 1


async def test_staff_are_pending_until_their_organisations_admin_approves(kgc: Kgc) -> None:
    org = await kgc.client.create_org(kgc.admin, "St Mary", "hospital")
    doctor = await kgc.client.enrol("doctor", org=org, dept="cardio")
    assert doctor.status == "pending"
    assert (await kgc.client.challenge(doctor.user_id)).status_code == 200
    assert (await kgc.http.post(f"/v1/users/{doctor.user_id}/approve")).status_code == 401
    await kgc.client.approve(kgc.admin, doctor)
    assert [e.subject for e in kgc.events("user.approved")] == [doctor.user_id]
    r = await kgc.http.get(
        "/v1/users", params={"role": "doctor", "org": org}, headers=bearer(kgc.admin)
    )
    assert [u["user_id"] for u in r.json()] == [doctor.user_id]


async def test_organisations_need_an_admin_and_a_valid_body(kgc: Kgc) -> None:
    patient = await kgc.client.enrol("patient")
    ptoken = await kgc.client.login(patient)
    body = {"name": "Lab A", "kind": "lab"}
    assert (await kgc.http.post("/v1/orgs", json=body)).status_code == 401
    assert (await kgc.http.post("/v1/orgs", json=body, headers=bearer(ptoken))).status_code == 403
    bad = await kgc.http.post("/v1/orgs", json={"name": ""}, headers=bearer(kgc.admin))
    assert bad.status_code == 422
    org = await kgc.client.create_org(kgc.admin, "Lab A", "lab")
    r = await kgc.http.get(f"/v1/orgs/{org}", headers=bearer(ptoken))
    assert r.status_code == 200 and r.json()["name"] == "Lab A"
    assert (await kgc.http.get("/v1/orgs/org_nope", headers=bearer(ptoken))).status_code == 404


async def test_a_revocation_is_written_with_its_event_once(kgc: Kgc) -> None:
    patient = await kgc.client.enrol("patient")
    token = await kgc.client.login(patient)
    assert (await kgc.http.post(f"/v1/users/{patient.user_id}/revoke", json={})).status_code == 401
    bad = await kgc.http.post(
        f"/v1/users/{patient.user_id}/revoke", json={"reason": 7}, headers=bearer(kgc.admin)
    )
    assert bad.status_code == 422
    for _ in range(2):  # a retry changes nothing and writes no second event
        r = await kgc.client.revoke(kgc.admin, patient.user_id, "lost phone")
        assert r.status_code == 200 and r.json()["status"] == "revoked"
    assert [e.subject for e in kgc.events("user.revoked")] == [patient.user_id]
    r = await kgc.http.get("/v1/whoami", headers=bearer(token))
    assert r.status_code == 401 and r.json()["type"].endswith("/user-revoked")


async def test_tracing_a_leaked_key_revokes_its_owner_in_one_change(kgc: Kgc) -> None:
    keys = UserKeys.generate()
    r = await kgc.http.post("/v1/users", json=enrol_body(keys, "patient"))
    user_id = r.json()["user_id"]
    leaked = {"secret_key": b64u_encode(keys.signing.seed())}
    assert (await kgc.http.post("/v1/trace", json=leaked)).status_code == 401
    r = await kgc.http.post("/v1/trace", json=leaked, headers=bearer(kgc.admin))
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == user_id and r.json()["revoked"] is True
    assert [e.subject for e in kgc.events("user.traced")] == [user_id]
    assert [e.subject for e in kgc.events("user.revoked")] == [user_id]


async def test_groups_hand_their_key_to_matching_staff_only(kgc: Kgc) -> None:
    org = await kgc.client.create_org(kgc.admin, "St Anne", "hospital")
    nurse = await kgc.client.staff(kgc.admin, "nurse", org, "icu")
    token = await kgc.client.login(nurse)
    selector = {"selector": {"role": "nurse", "org": org}}
    assert (await kgc.http.post("/v1/groups", json=selector)).status_code == 401
    r = await kgc.http.post("/v1/groups", json=selector, headers=bearer(token))
    assert r.status_code == 201, r.text
    group_id = r.json()["group_id"]
    empty = await kgc.http.post("/v1/groups", json={"selector": {}}, headers=bearer(token))
    assert empty.status_code == 422
    r = await kgc.http.get(f"/v1/groups/{group_id}/member-key", headers=bearer(token))
    assert r.status_code == 200 and r.json()["user_id"] == nurse.user_id
    stranger = auth_header(user_token(kgc.key, "u_x", "doctor", org="org_other"))
    r = await kgc.http.get(f"/v1/groups/{group_id}", headers=stranger)
    assert r.status_code == 200 and r.json()["group_id"] == group_id
    r = await kgc.http.get(f"/v1/groups/{group_id}/member-key", headers=stranger)
    assert r.status_code == 403


async def test_a_token_names_the_audience_asked_for_and_only_known_services(kgc: Kgc) -> None:
    patient = await kgc.client.enrol("patient")
    verifier = TokenVerifier({"kgc": kgc.key.verify_key}, audience="owner-api")
    token = await kgc.client.login(patient, audience="owner-api")
    assert verifier.verify(token).sub == patient.user_id
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "owner-api"
    for_two = await kgc.client.login(patient, audience=("user-api", "srs"))
    assert jwt.decode(for_two, options={"verify_signature": False})["aud"] == ["user-api", "srs"]
    with pytest.raises(TokenInvalid, match="audience"):
        verifier.verify(for_two)
    for bad in ("phr", "srs-1", [], ["srs", "srs"], None):
        nonce = (await kgc.client.challenge(patient.user_id)).json()["nonce"]
        r = await kgc.client.answer(patient, nonce, audience=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == PROBLEM

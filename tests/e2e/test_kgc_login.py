"""KGC end to end: parameters, enrolment, approval, login, directory, rate limiting."""

from __future__ import annotations

import os
import stat
from typing import Any

import pytest

from phr.crypto.keys import UserKeys
from phr.crypto.signing import VerifyKey
from phr.fhir.segments import SEGMENTS
from phr.identity.params import verify_params
from phr.identity.tokens import TokenVerifier
from phr.service.problems import PROBLEM_JSON
from phr.service.registry import Registry
from tests.support.identity import KgcClient, bearer, enrol_body, operator_file

pytestmark = pytest.mark.e2e


async def test_params_are_signed_by_the_kgc_key_of_the_registry(stack: Any, kgc: KgcClient) -> None:
    registry = Registry.load(stack.base / "registry.json")
    r = await kgc.http.get(f"{kgc.url}/v1/params")
    assert r.status_code == 200
    params, pin = verify_params(r.json(), None)
    assert pin.kgc_public == registry.services["kgc"].ed25519_public
    assert params.ledger is not None
    assert params.ledger.ed25519_public == registry.services["ledger"].ed25519_public
    assert [n.id for n in params.srs.nodes] == ["srs-1", "srs-2", "srs-3"]
    assert params.srs.threshold == 2
    assert all(n.x25519_public for n in params.srs.nodes)
    assert set(params.services) == set(registry.services)
    assert params.segments == list(SEGMENTS)
    # A second fetch verifies under the pin.
    verify_params((await kgc.http.get(f"{kgc.url}/v1/params")).json(), pin)


def test_operator_file_is_private(stack: Any) -> None:
    mode = stat.S_IMODE(os.stat(operator_file(stack)).st_mode)
    assert mode == 0o600


async def test_patient_enrols_active_and_logs_in(stack: Any, kgc: KgcClient) -> None:
    alice = await kgc.enrol("patient")
    assert alice.status == "active"
    token = await kgc.login(alice, "kgc")
    registry = Registry.load(stack.base / "registry.json")
    kgc_key = VerifyKey.from_b64(registry.services["kgc"].ed25519_public)
    principal = TokenVerifier({"kgc": kgc_key}, audience="kgc").verify(token)
    assert (principal.sub, principal.role, principal.org) == (alice.user_id, "patient", None)
    assert principal.key_fp == alice.keys.signing.verify_key.fingerprint()
    me = await kgc.http.get(f"{kgc.url}/v1/users/{alice.user_id}", headers=bearer(token))
    assert me.status_code == 200
    body = me.json()
    assert body["umbral_public"] == alice.keys.public().pre.b64()
    assert body["credential"]["credential"]["user_id"] == alice.user_id


async def test_staff_are_pending_until_an_admin_of_their_organisation_approves(
    kgc: KgcClient, operator_token: str, hospital: str
) -> None:
    doctor = await kgc.enrol("doctor", org=hospital, dept="cardiology")
    assert doctor.status == "pending"
    r = await kgc.challenge(doctor.user_id)
    r = await kgc.answer(doctor, r.json()["nonce"])
    assert r.status_code == 403
    assert r.json()["type"].endswith("/user-not-active")

    # The hospital's own admin (approved by the operator) approves; another's may not.
    admin = await kgc.staff(operator_token, "admin", hospital)
    admin_token = await kgc.login(admin)
    elsewhere = await kgc.create_org(operator_token, f"Other {os.urandom(3).hex()}", "lab")
    stranger = await kgc.staff(operator_token, "admin", elsewhere)
    r = await kgc.http.post(
        f"{kgc.url}/v1/users/{doctor.user_id}/approve",
        headers=bearer(await kgc.login(stranger)),
    )
    assert r.status_code == 403
    await kgc.approve(admin_token, doctor)
    token = await kgc.login(doctor)

    # Directory: the doctor is found by attribute selector, by a patient too.
    patient = await kgc.enrol("patient")
    r = await kgc.http.get(
        f"{kgc.url}/v1/users",
        params={"selector": f"role=doctor,org={hospital}"},
        headers=bearer(await kgc.login(patient)),
    )
    assert r.status_code == 200
    assert [u["user_id"] for u in r.json()] == [doctor.user_id]
    # ... but a patient may not list patients.
    r = await kgc.http.get(
        f"{kgc.url}/v1/users", params={"role": "patient"}, headers=bearer(await kgc.login(patient))
    )
    assert r.status_code == 403
    assert token


async def test_staff_need_an_existing_organisation(kgc: KgcClient) -> None:
    body = enrol_body(UserKeys.generate(), "nurse", org="org_nowhere")
    r = await kgc.http.post(f"{kgc.url}/v1/users", json=body)
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM_JSON


async def test_enrolment_needs_proof_of_possession_and_unique_keys(kgc: KgcClient) -> None:
    keys = UserKeys.generate()
    body = enrol_body(keys, "patient")
    forged = enrol_body(UserKeys.generate(), "patient")
    r = await kgc.http.post(f"{kgc.url}/v1/users", json=body | {"proof": forged["proof"]})
    assert r.status_code == 400
    assert r.json()["type"].endswith("/proof-invalid")
    assert (await kgc.http.post(f"{kgc.url}/v1/users", json=body)).status_code == 201
    r = await kgc.http.post(f"{kgc.url}/v1/users", json=body)
    assert r.status_code == 409


async def test_a_replayed_challenge_is_refused(kgc: KgcClient) -> None:
    alice = await kgc.enrol("patient")
    nonce = (await kgc.challenge(alice.user_id)).json()["nonce"]
    assert (await kgc.answer(alice, nonce)).status_code == 200
    r = await kgc.answer(alice, nonce)
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM_JSON


async def test_failed_logins_are_limited_per_source_and_never_block_a_valid_signature(
    kgc: KgcClient,
) -> None:
    victim = await kgc.enrol("patient")
    wrong = UserKeys.generate()
    statuses = []
    for _ in range(6):
        nonce = (await kgc.challenge(victim.user_id)).json()["nonce"]
        statuses.append((await kgc.answer(victim, nonce, keys=wrong)).status_code)
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    nonce = (await kgc.challenge(victim.user_id)).json()["nonce"]
    r = await kgc.answer(victim, nonce, keys=wrong)
    assert r.status_code == 429
    assert r.headers["content-type"] == PROBLEM_JSON
    assert int(r.headers["retry-after"]) > 0
    # The victim, even from the attacker's own address, still logs in at once (M3).
    nonce = (await kgc.challenge(victim.user_id)).json()["nonce"]
    r = await kgc.answer(victim, nonce)
    assert r.status_code == 200, r.text

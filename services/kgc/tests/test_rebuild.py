"""A KGC rebuilds users and organisations from another KGC's events (kgc.rebuild).

The source is the real app over a memory store, driven through its routes; its outbox
(what the relay publishes) is replayed into a second, empty KGC holding the same key,
revocations first (they travel on a topic of their own), then replayed again.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from kgc.main import build_state, create_app
from kgc.memory import MemoryKgcStore
from kgc.operator import ensure_operator
from kgc.rebuild import DirectoryRebuild
from kgc.settings import Settings
from phr.crypto.export import import_secret_keys
from phr.crypto.keys import UserKeys
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope
from phr.events.legacy import legacy_event
from phr.service.outbox import signed_events
from phr.service.producers import KGC, producer_verifier
from phr.service.state import AppState
from tests.support.asgi import asgi_client, test_authenticator
from tests.support.identity import KgcClient, TestUser, bearer, enrol_body

#: what a rebuilt user must equal the source on (display names are never in events)
PUBLIC = (
    "_id",
    "role",
    "organisation_id",
    "department",
    "status",
    "ed25519_public",
    "umbral_public",
    "ed25519_fp",
    "umbral_fp",
)


async def _kgc(settings: Settings, key: SigningKey, store: MemoryKgcStore) -> Any:
    auth = test_authenticator("kgc", key, key)
    state = build_state(settings, store, signed_events("kgc", key), auth, key)
    await ensure_operator(state.directory, settings.operator_path(), None)
    return state, auth


def _public(store: MemoryKgcStore) -> dict[str, dict[str, Any]]:
    return {uid: {k: u.get(k) for k in PUBLIC} for uid, u in store.users.items()}


def _orgs(store: MemoryKgcStore) -> dict[str, dict[str, Any]]:
    return {oid: {k: o[k] for k in ("name", "kind", "created_by")} for oid, o in store.orgs.items()}


async def test_users_and_organisations_come_back_and_a_second_replay_changes_nothing(
    tmp_path: Path,
) -> None:
    settings = Settings(operator_file=tmp_path / "operator.json")
    key = SigningKey.generate()
    source = MemoryKgcStore()
    state, auth = await _kgc(settings, key, source)
    async with asgi_client(create_app(settings), AppState(state, authenticator=auth)) as http:
        client = KgcClient(http, "http://test")
        operator = import_secret_keys(json.loads(settings.operator_path().read_text())).user
        admin = await client.login(TestUser("u_operator", "admin", operator))
        patient = await client.enrol("patient")
        org = await client.create_org(admin, "St Mary", "hospital")
        lab = await client.create_org(admin, "North Lab", "lab")
        doctor = await client.enrol("doctor", org=org, dept="cardio")
        await client.approve(admin, doctor)
        nurse = await client.enrol("nurse", org=org, dept="icu")  # stays pending
        gone = await client.enrol("lab", org=lab)
        await client.approve(admin, gone)
        assert (await client.revoke(admin, gone.user_id)).status_code == 200
        pending_gone = await client.enrol("doctor", org=lab)
        assert (await client.revoke(admin, pending_gone.user_id)).status_code == 200
    events = [Envelope.from_json_bytes(d["envelope"].encode()) for d in source.outbox.values()]
    assert {"user.enrolled", "user.approved", "user.revoked", "organisation.created"} <= {
        e.type for e in events
    }

    # An empty KGC with the same key: revocations first, the rest shuffled per subject.
    target = MemoryKgcStore()
    t_state, t_auth = await _kgc(settings, key, target)
    rebuild = DirectoryRebuild(target, t_state.directory)
    verify = producer_verifier({KGC: key.verify_key}, {e.type: KGC for e in events})
    revocations = [e for e in events if e.type == "user.revoked"]
    rest = [e for e in events if e.type != "user.revoked"]
    random.Random(3).shuffle(rest)
    rest.sort(key=lambda e: (e.subject, e.time))  # one partition per subject keeps its order
    for event in [*revocations, *rest]:
        await verify(event)
        await rebuild(event)
    assert _public(target) == _public(source)
    assert _orgs(target) == _orgs(source)
    assert target.users[gone.user_id]["status"] == "revoked"
    assert target.users[pending_gone.user_id]["status"] == "revoked"
    assert target.users[nurse.user_id]["status"] == "pending"
    applied = rebuild.stats.applied
    assert applied >= 8

    # The rebuilt directory works: the patient and the approved doctor log in with the keys
    # they enrolled with; the revoked one does not.
    async with asgi_client(create_app(settings), AppState(t_state, authenticator=t_auth)) as http:
        client = KgcClient(http, "http://test")
        token = await client.login(patient)
        me = await http.get("/v1/whoami", headers=bearer(token))
        assert me.json()["sub"] == patient.user_id
        await client.login(doctor)
        nonce = (await client.challenge(gone.user_id)).json()["nonce"]
        refused = await client.answer(gone, nonce)
        assert refused.status_code == 403, refused.text

    # A second replay, in yet another order: nothing changes.
    before = (json.dumps(target.users, default=str), json.dumps(target.orgs, default=str))
    for event in reversed(events):
        await rebuild(event)
    assert rebuild.stats.applied == applied
    assert (json.dumps(target.users, default=str), json.dumps(target.orgs, default=str)) == before


async def test_an_enrolment_of_version_1_is_upcast_and_rebuilds_nothing(tmp_path: Path) -> None:
    settings = Settings(operator_file=tmp_path / "operator.json")
    key = SigningKey.generate()
    store = MemoryKgcStore()
    state, _ = await _kgc(settings, key, store)
    keys = UserKeys.generate().public()
    old = legacy_event(
        key=key,
        source="kgc",
        type="user.enrolled",
        schema_version=1,
        subject="u_old",
        data={
            "user_id": "u_old",
            "role": "patient",
            "status": "active",
            "ed25519_fingerprint": keys.verify.fingerprint(),
            "umbral_fingerprint": keys.pre.fingerprint(),
        },
    )
    rebuild = DirectoryRebuild(store, state.directory)
    await rebuild(old)
    assert "u_old" not in store.users
    assert rebuild.stats.without_keys == 1 and rebuild.stats.applied == 0


async def test_a_live_kgcs_own_events_change_nothing(tmp_path: Path) -> None:
    """On a running KGC every event it consumes was applied by the request that wrote it."""
    settings = Settings(operator_file=tmp_path / "operator.json")
    key = SigningKey.generate()
    store = MemoryKgcStore()
    state, auth = await _kgc(settings, key, store)
    async with asgi_client(create_app(settings), AppState(state, authenticator=auth)) as http:
        body = enrol_body(UserKeys.generate(), "patient")
        assert (await http.post("/v1/users", json=body)).status_code == 201
    before = json.dumps(store.users, default=str)
    rebuild = DirectoryRebuild(store, state.directory)
    for doc in list(store.outbox.values()):
        await rebuild(Envelope.from_json_bytes(doc["envelope"].encode()))
    assert rebuild.stats.applied == 0
    assert json.dumps(store.users, default=str) == before

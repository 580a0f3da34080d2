"""owner-api's routes in-process: its real app over the memory stores (no servers).

cloud-store (with its S3) and the KGC directory are faked (tests/support/owner_api.py);
routes, auth, problem handlers and use cases are the service's own. For each main route:
the happy path, a refused caller (no token, another patient's) and a bad body; the
events a change writes land in the shared outbox (what the relay would publish), checked
to be signed by owner-api and written once however often the request is retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from owner_api.main import build_state, create_app
from owner_api.memory import memory_stores
from owner_api.settings import Settings
from phr.crypto.keys import PatientMasterKey
from phr.crypto.signing import SigningKey
from phr.service.outbox import signed_events
from phr.service.state import AppState
from tests.support.asgi import asgi_client, test_authenticator
from tests.support.owner_api import (
    NODES,
    FakeCloud,
    FakeDirectory,
    Owner,
    Person,
    grant_body,
    person,
    record_for,
    upload_body,
)

PROBLEM = "application/problem+json"


@pytest.fixture
async def owner() -> AsyncIterator[Owner]:
    kgc, key = SigningKey.generate(), SigningKey.generate()
    records, acl = memory_stores()
    cloud, directory = FakeCloud(), FakeDirectory()
    woken: list[int] = []
    state = build_state(
        Settings(),
        records,
        acl,
        cloud,
        directory,
        signed_events("owner-api", key),
        nodes=[n.node_id for n in NODES],
        on_outbox=lambda: woken.append(1),
    )
    auth = test_authenticator("owner-api", kgc, key)
    patient = person(kgc, "u_ann", "patient")
    directory.enrol(patient.id, "patient", patient.keys)
    master = PatientMasterKey.generate()
    async with asgi_client(create_app(Settings()), AppState(state, authenticator=auth)) as http:
        yield Owner(http, records, acl, cloud, directory, kgc, key, master, patient, woken)


def is_problem(r: httpx.Response) -> bool:
    """An RFC 9457 answer: problem+json with its ``type``."""
    return r.headers["content-type"].startswith(PROBLEM) and "type" in r.json()


async def upload(o: Owner, rid: str, author: Person | None = None) -> dict[str, object]:
    """Begin, PUT every segment, commit; the committed record."""
    record = record_for(o.patient, author or o.patient, o.master, rid)
    headers = (author or o.patient).headers
    r = await o.http.post(o.url("/uploads"), json=upload_body(record, f"up-{rid}"), headers=headers)
    assert r.status_code == 201, r.text
    for name, put in r.json()["urls"].items():
        o.cloud.put(put["url"], record.segments[name].ciphertext)
    r = await o.http.post(o.url(f"/uploads/up-{rid}/commit"), headers=headers)
    assert r.status_code == 200, r.text
    out: dict[str, object] = r.json()
    return out


async def upload_status(o: Owner, author: Person) -> int:
    record = record_for(o.patient, author, o.master, "r_try")
    body = upload_body(record, "up-try")
    return (await o.http.post(o.url("/uploads"), json=body, headers=author.headers)).status_code


# ---------------------------------------------------------------- uploads


async def test_an_upload_is_committed_once_and_announced_once(owner: Owner) -> None:
    o = owner
    record = record_for(o.patient, o.patient, o.master, "r1")
    body = upload_body(record, "up-1")
    begun = await o.http.post(o.url("/uploads"), json=body, headers=o.patient.headers)
    assert begun.status_code == 201, begun.text
    assert sorted(begun.json()["urls"]) == sorted(record.segments)
    again = await o.http.post(o.url("/uploads"), json=body, headers=o.patient.headers)
    assert again.status_code == 200 and again.json()["upload_id"] == "up-1"
    early = await o.http.post(o.url("/uploads/up-1/commit"), headers=o.patient.headers)
    assert early.status_code == 409 and early.headers["content-type"].startswith(PROBLEM)
    assert early.json()["type"].endswith("/upload-incomplete")
    for name, put in begun.json()["urls"].items():
        o.cloud.put(put["url"], record.segments[name].ciphertext)
    for _ in range(2):  # a retried commit answers the record and writes no second event
        r = await o.http.post(o.url("/uploads/up-1/commit"), headers=o.patient.headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "committed"
    [event] = o.events("record.uploaded")
    assert (event.subject, event.data["record_id"]) == (o.patient.id, "r1")
    assert o.cloud.tags["u_ann/r1"] == {n: s.tags for n, s in record.segments.items()}
    assert o.woken, "the relay was not woken after the commit"


async def test_an_upload_needs_the_patient_or_his_contributor(owner: Owner) -> None:
    o = owner
    other = person(o.kgc, "u_bob", "patient")
    record = record_for(o.patient, other, o.master, "r1")
    r = await o.http.post(o.url("/uploads"), json=upload_body(record, "up-1"))
    assert r.status_code == 401 and is_problem(r)
    r = await o.http.post(
        o.url("/uploads"), json=upload_body(record, "up-1"), headers=other.headers
    )
    assert r.status_code == 403 and is_problem(r)
    lab = person(o.kgc, "u_lab", "doctor", org="org_lab")
    assert (await upload_status(o, lab)) == 403
    r = await o.http.put(o.url("/contributors/org_lab"), headers=o.patient.headers)
    assert r.status_code == 200, r.text
    assert (
        await o.http.put(o.url("/contributors/org_x"), headers=other.headers)
    ).status_code == 403
    listed = await o.http.get(o.url("/contributors"), headers=o.patient.headers)
    assert [c["org_id"] for c in listed.json()] == ["org_lab"]
    done = await upload(o, "r_lab", author=lab)
    assert done["status"] == "committed" and done["uploaded_by"] == "u_lab"
    assert o.events("record.uploaded")[0].data["uploaded_by"] == "u_lab"


async def test_a_bad_upload_body_is_a_problem_and_stores_nothing(owner: Owner) -> None:
    o = owner
    r = await o.http.post(o.url("/uploads"), json={"upload_id": "up-1"}, headers=o.patient.headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    forged = record_for(o.patient, person(o.kgc, "u_x", "patient"), o.master, "r1")
    r = await o.http.post(
        o.url("/uploads"), json=upload_body(forged, "up-1"), headers=o.patient.headers
    )
    assert r.status_code == 400 and r.json()["type"].endswith("/manifest-invalid"), r.text
    assert o.records.records == {} and o.records.outbox == {}


async def test_an_aborted_upload_leaves_no_blob_and_no_document(owner: Owner) -> None:
    o = owner
    record = record_for(o.patient, o.patient, o.master, "r1")
    begun = await o.http.post(
        o.url("/uploads"), json=upload_body(record, "up-1"), headers=o.patient.headers
    )
    name, put = next(iter(begun.json()["urls"].items()))
    o.cloud.put(put["url"], record.segments[name].ciphertext)
    stranger = person(o.kgc, "u_bob", "patient")
    assert (
        await o.http.delete(o.url("/uploads/up-1"), headers=stranger.headers)
    ).status_code == 403
    assert (
        await o.http.delete(o.url("/uploads/up-1"), headers=o.patient.headers)
    ).status_code == 204
    assert o.cloud.objects == {} and o.records.records == {}
    assert (await o.http.get(o.url("/uploads/up-1"), headers=o.patient.headers)).status_code == 404
    assert o.events("record.uploaded") == []


# ---------------------------------------------------------------- reading, deleting


async def test_records_are_read_and_deleted_by_their_patient_only(owner: Owner) -> None:
    o = owner
    await upload(o, "r1")
    stranger = person(o.kgc, "u_bob", "patient")
    listed = await o.http.get(o.url("/records"), headers=o.patient.headers)
    assert [d["record_id"] for d in listed.json()] == ["r1"]
    assert (await o.http.get(o.url("/records"))).status_code == 401
    assert (await o.http.get(o.url("/records"), headers=stranger.headers)).status_code == 403
    r = await o.http.get(o.url("/records", stranger), headers=o.patient.headers)
    assert r.status_code == 403
    bad = await o.http.get(o.url("/records?limit=0"), headers=o.patient.headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    detail = (await o.http.get(o.url("/records/r1"), headers=o.patient.headers)).json()
    segment = detail["segments"][0]["name"]
    blob = await o.http.get(o.url(f"/records/r1/segments/{segment}"), headers=o.patient.headers)
    assert blob.status_code == 200
    assert blob.content == record_bytes(o, segment)
    assert (await o.http.delete(o.url("/records/r1"), headers=stranger.headers)).status_code == 403
    for _ in range(2):  # a retried deletion changes nothing more
        r = await o.http.delete(o.url("/records/r1"), headers=o.patient.headers)
        assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert [e.data["record_id"] for e in o.events("record.deleted")] == ["r1"]
    assert o.cloud.objects == {} and o.cloud.tags == {}
    r = await o.http.get(o.url("/records/r1"), headers=o.patient.headers)
    assert r.status_code == 410 and r.headers["content-type"].startswith(PROBLEM)


def record_bytes(o: Owner, segment: str) -> bytes:
    [data] = [v for k, v in o.cloud.objects.items() if f"/{segment}/" in k]
    return data


# ---------------------------------------------------------------- grants


async def test_a_grant_is_recorded_and_announced_once_then_revoked_once(owner: Owner) -> None:
    o = owner
    doctor = person(o.kgc, "u_doc", "doctor", org="org_a")
    o.directory.enrol(doctor.id, "doctor", doctor.keys)
    for attempt in range(2):  # a retry makes fresh kfrags for the same terms: same grant
        body = grant_body(o.patient, o.master, doctor, "g1", "labs")
        r = await o.http.post(o.url("/grants"), json=body, headers=o.patient.headers)
        assert r.status_code == (201, 200)[attempt], r.text
    [granted] = o.events("acl.granted")
    assert (granted.subject, granted.data["grant_id"]) == (o.patient.id, "g1")
    assert [kg["segment"] for kg in granted.data["key_grants"]] == ["labs"]
    listed = await o.http.get(o.url("/grants"), headers=o.patient.headers)
    assert [g["grant_id"] for g in listed.json()] == ["g1"]
    for _ in range(2):
        r = await o.http.delete(o.url("/grants/g1"), headers=o.patient.headers)
        assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
    assert [e.data["grant_id"] for e in o.events("acl.revoked")] == ["g1"]


async def test_grants_refuse_strangers_and_bad_bodies(owner: Owner) -> None:
    o = owner
    doctor = person(o.kgc, "u_doc", "doctor")
    o.directory.enrol(doctor.id, "doctor", doctor.keys)
    body = grant_body(o.patient, o.master, doctor, "g1", "labs")
    assert (await o.http.post(o.url("/grants"), json=body)).status_code == 401
    r = await o.http.post(o.url("/grants"), json=body, headers=doctor.headers)
    assert r.status_code == 403 and is_problem(r)
    assert (await o.http.get(o.url("/grants"), headers=doctor.headers)).status_code == 403
    bad = await o.http.post(
        o.url("/grants"), json=body | {"threshold": 0}, headers=o.patient.headers
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    other = grant_body(o.patient, o.master, doctor, "g2", "labs") | {"segments": ["labs", "notes"]}
    r = await o.http.post(o.url("/grants"), json=other, headers=o.patient.headers)
    assert r.status_code == 400 and r.json()["type"].endswith("/grant-invalid"), r.text
    assert o.acl.grants == {} and o.events("acl.granted") == []


# ---------------------------------------------------------------- keys, delegations


async def test_a_rotation_is_the_patients_and_announced_per_segment(owner: Owner) -> None:
    o = owner
    stranger = person(o.kgc, "u_bob", "patient")
    body = {"segments": ["labs", "notes"]}
    assert (await o.http.post(o.url("/keys/rotate"), json=body)).status_code == 401
    r = await o.http.post(o.url("/keys/rotate"), json=body, headers=stranger.headers)
    assert r.status_code == 403
    bad = await o.http.post(o.url("/keys/rotate"), json={"segments": []}, headers=o.patient.headers)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    r = await o.http.post(o.url("/keys/rotate"), json=body, headers=o.patient.headers)
    assert r.status_code == 200 and r.json()["versions"] == {"labs": 2, "notes": 2}
    rotated = o.events("key.rotated")
    assert sorted((e.data["segment"], e.data["new_version"]) for e in rotated) == [
        ("labs", 2),
        ("notes", 2),
    ]
    keys = await o.http.get(o.url("/keys"), headers=stranger.headers)
    assert keys.status_code == 200 and keys.json()["versions"] == {"labs": 2, "notes": 2}


async def test_a_delegation_is_named_used_and_ended_by_the_patient(owner: Owner) -> None:
    o = owner
    carer = person(o.kgc, "u_carer", "caregiver")
    o.directory.enrol(carer.id, "caregiver", carer.keys)
    body = {"segments": ["labs"]}
    path = o.url(f"/delegations/{carer.id}")
    assert (await o.http.put(path, json=body)).status_code == 401
    assert (await o.http.put(path, json=body, headers=carer.headers)).status_code == 403
    bad = await o.http.put(path, json={"segments": ["x-ray"]}, headers=o.patient.headers)
    assert bad.status_code == 400 and bad.headers["content-type"].startswith(PROBLEM)
    r = await o.http.put(path, json=body, headers=o.patient.headers)
    assert r.status_code == 200 and r.json()["active"] is True, r.text
    mine = await o.http.get(f"{path}/keys", headers=carer.headers)
    assert mine.status_code == 200 and mine.json()["segments"] == ["labs"]
    doctor = person(o.kgc, "u_doc", "doctor")
    o.directory.enrol(doctor.id, "doctor", doctor.keys)
    # the delegate grants within his scope, on the patient's behalf
    by_carer = grant_body(o.patient, o.master, doctor, "g1", "labs", author=carer)
    r = await o.http.post(o.url("/grants"), json=by_carer, headers=carer.headers)
    assert r.status_code == 201, r.text
    assert o.events("acl.granted")[0].data["on_behalf_of"] == o.patient.id
    for _ in range(2):
        r = await o.http.delete(path, headers=o.patient.headers)
        assert r.status_code == 200 and r.json()["active"] is False
    assert [e.data["active"] for e in o.events("delegation.changed")] == [True, False]
    assert (await o.http.get(f"{path}/keys", headers=carer.headers)).status_code == 403

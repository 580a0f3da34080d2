"""A caregiver grants for the patient (attributed to both); bad grants are refused with
problem+json and announce nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from phr.crypto.pre import PrePublicKey
from phr.sdk.sharing import NoSegmentKey
from tests.support.grants import World, grant_world, open_with
from tests.support.identity import bearer
from tests.support.records import mongo, topic_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(stack: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=15) as http:
        yield await grant_world(stack, http)


async def test_caregiver_grant_works_and_is_attributed(world: World) -> None:
    caregiver = await world.kgc.enrol("caregiver")
    doctor = await world.staff("doctor")
    record = await world.upload()
    await world.sharing.delegate(world.pid, caregiver.user_id, ["labs"])
    helper = world.client(caregiver, await world.kgc.login(caregiver))
    grant = await helper.grant_user(world.pid, doctor.user_id, ["labs"], purpose="care")
    assert (grant.granted_by, grant.on_behalf_of) == (caregiver.user_id, world.pid)
    (listed,) = [
        g for g in await world.sharing.list_grants(world.pid) if g.grant_id == grant.grant_id
    ]
    assert (listed.granted_by, listed.on_behalf_of) == (caregiver.user_id, world.pid)

    async def announced() -> dict[str, Any]:
        for _, value in await topic_messages(world.stack, ["phr.acl"]):
            event = json.loads(value)
            if event["type"] == "acl.granted" and event["data"]["grant_id"] == grant.grant_id:
                return dict(event["data"])
        raise AssertionError("acl.granted not on Kafka yet")

    data = await eventually(announced, timeout=20)
    assert (data["granted_by"], data["on_behalf_of"]) == (caregiver.user_id, world.pid)
    token = await world.kgc.login(doctor)
    cfrags, doc = await eventually(lambda: world.cfrags(token, record, "labs"), timeout=20)
    entry = await world.entry(record, "labs")
    assert open_with(doctor.keys, entry, doc, cfrags) == await world.own_secret(record, "labs")
    # outside his scope the caregiver holds no key, and owner-api would refuse him anyway
    with pytest.raises(NoSegmentKey):
        await helper.grant_user(world.pid, doctor.user_id, ["notes"])
    r = await world.http.post(
        f"{world.owner_url}/v1/patients/{world.pid}/keys/rotate",
        json={"segments": ["labs"]},
        headers=bearer(await world.kgc.login(caregiver)),
    )
    assert r.status_code == 403 and r.json()["type"].endswith("/not-delegated")
    # and he may revoke what is in scope
    revoked = await helper.revoke(world.pid, grant.grant_id)
    assert (revoked.revoked_by, revoked.revoked_on_behalf_of) == (caregiver.user_id, world.pid)


async def test_bad_grants_are_refused_and_announce_nothing(world: World) -> None:
    doctor = await world.staff("doctor")
    sharing = world.sharing
    pk = PrePublicKey.from_b64(
        (
            await world.http.get(
                f"{world.kgc_url}/v1/users/{doctor.user_id}", headers=bearer(world.patient.token)
            )
        ).json()["umbral_public"]
    )

    async def body(grant_id: str, segments: list[str], **extra: Any) -> dict[str, Any]:
        key_grants = await sharing._key_grants(
            world.pid,
            grant_id=grant_id,
            grantee_id=doctor.user_id,
            receiving_pk=pk,
            versions={s: [1] for s in segments},
            not_before=None,
            expires_at=None,
            purpose=None,
        )
        return {
            "grant_id": grant_id,
            "grantee_user_id": doctor.user_id,
            "segments": segments,
            "threshold": 2,
            "key_grants": key_grants,
        } | extra

    url = f"{world.owner_url}/v1/patients/{world.pid}/grants"
    headers = bearer(world.patient.token)
    good = await body("bad-0", ["labs"])
    malformed = json.loads(json.dumps(good))
    malformed["key_grants"][0]["signed_grant"]["signature"] = "AAAA"
    other = await world.kgc.enrol("patient")
    cases = {
        "bad-1": (
            url,
            await body("bad-1", ["labs"]) | {"segments": ["labs", "horoscope"]},
            headers,
        ),
        "bad-2": (url, await body("bad-2", ["labs"]) | {"grantee_user_id": "u_nobody"}, headers),
        "bad-3": (url.replace(world.pid, other.user_id), await body("bad-3", ["labs"]), headers),
        "bad-0": (url, malformed, headers),
    }
    for grant_id, (target, payload, h) in cases.items():
        r = await world.http.post(target, json=payload, headers=h)
        assert 400 <= r.status_code < 500, (grant_id, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), grant_id
    async with mongo(world.stack) as client:
        outbox = client["phr_owner_api"]["outbox"]
        leaked = await outbox.count_documents({"_id": {"$regex": "/bad-[0-3]/"}})
        grants = await client["phr_owner_api"]["grants"].count_documents(
            {"grant_id": {"$in": list(cases)}}
        )
    assert (leaked, grants) == (0, 0)


async def test_emergency_segments_open_only_with_a_reason(world: World) -> None:
    record = await world.upload()
    grants = await world.sharing.set_emergency_segments(world.pid, ["demographics"])
    assert {tuple(sorted((g.grantee_group or {}).items())) for g in grants} == {
        (("role", "doctor"),),
        (("role", "nurse"),),
    }
    assert all(g.emergency for g in grants)
    doctor = await world.staff("doctor")
    token = await world.kgc.login(doctor)

    async def opened() -> bool:
        body = await world.reencrypt("srs-1", token, record, "demographics", reason="unconscious")
        assert body["granted"] and body["breakglass"], body["denied"]
        return True

    await eventually(opened, timeout=20)
    body = await world.reencrypt("srs-2", token, record, "demographics")
    assert body["denied"][0]["reason"] == "break-glass needs a reason"
    with pytest.raises(Exception, match="emergency"):
        await world.sharing.grant_group(world.pid, {"role": "doctor"}, ["labs"], emergency=True)

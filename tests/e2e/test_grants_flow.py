"""Grants through owner-api to the SRS nodes: a doctor, a group (late joiners too), and
revocation with key rotation, against the real servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from phr.crypto.errors import CryptoError
from phr.crypto.pre import KeyCapsule, generate_kfrags, open_reencrypted, reencrypt
from phr.sdk.errors import ApiError
from phr.sdk.groups import as_receiver, member_group_key
from tests.support.grants import NODES, World, grant_world, open_with
from tests.support.records import topic_messages
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(stack: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=15) as http:
        yield await grant_world(stack, http)


async def acl_events(stack: Any, grant_id: str, type: str) -> list[dict[str, Any]]:
    found = []
    for _, value in await topic_messages(stack, ["phr.acl"]):
        event = json.loads(value)
        if event["type"] == type and event["data"].get("grant_id") == grant_id:
            found.append(event)
    return found


async def test_doctor_grant_reaches_every_node_and_revocation_rotates(world: World) -> None:
    doctor = await world.staff("doctor")
    doctor_token = await world.kgc.login(doctor)
    record = await world.upload()
    sharing = world.sharing
    await sharing.publish_keys(world.pid)
    grant = await sharing.grant_user(world.pid, doctor.user_id, ["labs"], purpose="treatment")
    assert grant.granted_by == world.pid and grant.on_behalf_of is None

    async def listed_everywhere() -> bool:
        for node in NODES:
            found = [g for g in await world.node_grants(node) if g["grant_id"] == grant.grant_id]
            assert len(found) == 1, f"{node} does not list the grant yet"
            assert found[0]["status"] == "active"
            assert found[0]["grantee_user_id"] == doctor.user_id
        return True

    await eventually(listed_everywhere, timeout=20)
    cfrags, doc = await eventually(lambda: world.cfrags(doctor_token, record, "labs"), timeout=20)
    entry = await world.entry(record, "labs")
    assert open_with(doctor.keys, entry, doc, cfrags) == await world.own_secret(record, "labs")
    # the listing holds no kfrag; acl.granted went out exactly once
    (listed,) = [g for g in await sharing.list_grants(world.pid) if g.grant_id == grant.grant_id]
    assert "kfrag" not in listed.model_dump_json()
    assert len(await acl_events(world.stack, grant.grant_id, "acl.granted")) == 1

    # Revocation: every node denies within a second of owner-api's answer.
    started = time.time()
    revoked = await sharing.revoke(world.pid, grant.grant_id)
    assert revoked.status == "revoked"

    async def all_denied() -> bool:
        reasons = await world.denials(doctor_token, record, "labs")
        assert all(r == "grant revoked" for r in reasons), reasons
        return True

    await eventually(all_denied, timeout=5, interval=0.02)
    elapsed = time.time() - started
    # a figure, not a test of speed (the bench measures revocation latency)
    print(f"revocation to denial at every node: {elapsed:.3f} s (with the SDK's rotation)")
    assert (await sharing.versions(world.pid))["labs"] == 2

    # Data written after the rotation: even kfrags kept from before (made exactly as the
    # doctor's were, v1 -> doctor) produce nothing usable for the new capsule.
    new_record = await world.upload({"labs": 2})
    new_entry = await world.entry(new_record, "labs")
    assert new_entry.capsule_version == 2
    master = world.patient.master
    v1_sk = master.segment_secret_key("labs", 1)
    old_kfrags = generate_kfrags(
        v1_sk, doctor.keys.pre.public_key(), master.kfrag_signer(), threshold=2, shares=3
    )
    capsule = KeyCapsule.from_b64(new_entry.capsule)
    keys = {
        "verifying_pk": master.kfrag_signer().public_key(),
        "delegating_pk": v1_sk.public_key(),
    }
    stolen = [
        reencrypt(capsule, k, receiving_pk=doctor.keys.pre.public_key(), **keys)
        for k in old_kfrags[:2]
    ]
    with pytest.raises(CryptoError):
        open_reencrypted(doctor.keys.pre, capsule, stolen, threshold=2, **keys)

    async def new_record_denied() -> bool:
        reasons = await world.denials(doctor_token, new_record, "labs")
        assert set(reasons) == {"grant revoked"}, reasons
        return True

    await eventually(new_record_denied, timeout=20)


async def test_group_grant_opens_for_members_who_join_later(world: World) -> None:
    nurse = await world.staff("nurse")
    record = await world.upload()
    sharing = world.sharing
    grant = await sharing.grant_group(world.pid, {"role": "nurse", "org": world.org}, ["labs"])
    assert grant.grantee_group == {"org": world.org, "role": "nurse"} and grant.group_id
    late = await world.staff("nurse")  # enrolled and approved after the grant
    want = await world.own_secret(record, "labs")
    entry = await world.entry(record, "labs")
    for member in (nurse, late):
        token = await world.kgc.login(member)
        cfrags, doc = await eventually(lambda t=token: world.cfrags(t, record, "labs"), timeout=20)
        assert doc.grantee_id == grant.group_id
        group_sk = await member_group_key(
            world.kgc_url, token, member.keys, doc.grantee_id, public_key=doc.receiving_pk
        )
        assert open_with(as_receiver(member.keys, group_sk), entry, doc, cfrags) == want
    # a doctor of the same org is no member: no group key, no cfrags
    doctor = await world.staff("doctor")
    doctor_token = await world.kgc.login(doctor)
    with pytest.raises(ApiError) as info:
        await member_group_key(world.kgc_url, doctor_token, doctor.keys, grant.group_id or "")
    assert info.value.status == 403
    assert set(await world.denials(doctor_token, record, "labs")) == {"no grant"}

    # revoking a member rotates the group key: new grants use a key he never had
    before = await sharing.create_group({"role": "nurse", "org": world.org})
    r = await world.kgc.revoke(world.admin, late.user_id)
    assert r.status_code == 200, r.text
    after = await sharing.create_group({"role": "nurse", "org": world.org})
    assert after["version"] == before["version"] + 1
    assert after["public_key"] != before["public_key"]


async def test_expired_and_not_yet_started_grants_deny(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    doctor = await world.staff("doctor")
    token = await world.kgc.login(doctor)
    record = await world.upload()
    now = datetime.now(UTC)
    sharing = world.sharing
    await sharing.grant_user(
        world.pid, doctor.user_id, ["labs"], expires_at=now - timedelta(minutes=1)
    )
    await sharing.grant_user(
        world.pid, doctor.user_id, ["demographics"], not_before=now + timedelta(days=1)
    )

    async def denied() -> bool:
        assert set(await world.denials(token, record, "labs")) == {"grant expired"}
        reasons = await world.denials(token, record, "demographics")
        assert set(reasons) == {"grant not yet valid"}, reasons
        return True

    await eventually(denied, timeout=20)
    await asyncio.sleep(0)  # keep the loop tidy for the shared client


async def test_a_rotation_with_rewrap_keeps_standing_grants_readable(world: World) -> None:
    """The patient rotates labs and re-wraps his old records: a doctor whose grant stands
    reads the old record (its capsule now of the new version) and a new one."""
    doctor = await world.staff("doctor")
    token = await world.kgc.login(doctor)
    old = await world.upload()
    sharing = world.sharing
    await sharing.publish_keys(world.pid)
    await sharing.grant_user(world.pid, doctor.user_id, ["labs"])
    await eventually(lambda: world.cfrags(token, old, "labs"), timeout=20)

    new = await sharing.rotate(world.pid, ["labs"], rewrap=True)
    assert new == {"labs": 2}
    assert (await world.entry(old, "labs")).capsule_version == 2
    fresh = await world.upload({"labs": 2})
    for record in (old, fresh):
        cfrags, doc = await eventually(lambda r=record: world.cfrags(token, r, "labs"), timeout=20)
        entry = await world.entry(record, "labs")
        assert open_with(doctor.keys, entry, doc, cfrags) == await world.own_secret(record, "labs")

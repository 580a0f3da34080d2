"""Ids a client chooses cannot reach another patient's objects (issue 19, H1 and H2).

Patient B reuses patient A's grant id and record id through owner-api, as any client
can (ids are visible to the grantees and in the ledger), then revokes and deletes them;
A's doctor is still served by every SRS node. An event naming A's id under B's name
(owner-api never sends one: a forged or buggy producer) changes nothing and is counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from phr.api.owner import GrantOut
from phr.client import OwnerKeys
from phr.events.acl import AclRevoked
from phr.events.records import RecordDeleted
from tests.support.grants import BUNDLE, NODES, World, grant_world
from tests.support.identity import TestUser, bearer
from tests.support.records import new_patient
from tests.support.sharing import publish
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def world(stack: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield await grant_world(stack, http)


async def _served_everywhere(world: World, token: str, record_id: str) -> bool:
    return set(await world.denials(token, record_id, "labs")) == {"granted"}


async def _rejections(world: World) -> dict[str, int]:
    out = {}
    for node in NODES:
        r = await world.http.get(f"{world.registry.url(node)}/v1/node")
        assert r.status_code == 200, r.text
        out[node] = int(r.json()["events"]["rejected_grants"])
    return out


async def _a_served_grant(world: World) -> tuple[TestUser, str, str, GrantOut]:
    """A's doctor, his token, A's record and A's labs grant, served by every node."""
    doctor = await world.staff("doctor")
    doctor_token = await world.kgc.login(doctor)
    record_id = await world.upload()
    mine = await world.sharing.grant_user(world.pid, doctor.user_id, ["labs"])
    await eventually(
        lambda: _served_everywhere(world, doctor_token, record_id), timeout=30, interval=0.3
    )
    return doctor, doctor_token, record_id, mine


async def test_another_patient_reusing_grant_and_record_ids_leaves_the_first_served(
    stack: Any, world: World
) -> None:
    doctor, doctor_token, record_id, mine = await _a_served_grant(world)

    # B: the same grant id to his own doctor, then revoked (H1); a record of A's id,
    # then deleted (H2). owner-api accepts both: B's ids are B's own.
    other = await new_patient(stack)
    sharing_b = world.client(other.user, other.token)
    sharing_b.master = other.master
    theirs = await sharing_b.grant_user(other.id, doctor.user_id, ["labs"], grant_id=mine.grant_id)
    assert theirs.grant_id == mine.grant_id
    async with other.records() as records:
        info = await records.upload_record(
            BUNDLE,
            patient_id=other.id,
            record_id=record_id,
            keys=OwnerKeys(other.master),
            author=other.user.keys.signing,
            validate=False,
        )
        assert info.record_id == record_id
        await records.delete_record(other.id, record_id)
    await sharing_b.revoke(other.id, mine.grant_id, rotate=False)

    # B's events travel in order on B's partition: once every node holds B's next grant,
    # it has applied his revocation and deletion before it
    marker = await sharing_b.grant_user(other.id, doctor.user_id, ["notes"])

    async def marker_everywhere() -> bool:
        for node in NODES:
            r = await world.http.get(
                f"{world.registry.url(node)}/v1/grants",
                params={"patient_id": other.id},
                headers=bearer(other.token),
            )
            if marker.grant_id not in {g["grant_id"] for g in r.json()["grants"]}:
                return False
        return True

    await eventually(marker_everywhere, timeout=30, interval=0.3)
    # every node still serves A's doctor A's record, and owner-api shows A's grant active
    assert await _served_everywhere(world, doctor_token, record_id)
    assert [g.status for g in await world.sharing.list_grants(world.pid)] == ["active"]


async def test_an_event_naming_anothers_ids_changes_nothing_and_is_counted(
    stack: Any, world: World
) -> None:
    doctor, doctor_token, record_id, mine = await _a_served_grant(world)
    before = await _rejections(world)
    other = await new_patient(stack)
    # as a forged (or buggy) owner-api would announce them, signed with its key
    await publish(
        stack,
        "acl.revoked",
        AclRevoked(grant_id=mine.grant_id, patient_id=other.id, revoked_by=other.id),
        other.id,
    )
    await publish(
        stack,
        "record.deleted",
        RecordDeleted(patient_id=other.id, record_id=record_id, deleted_by=other.id),
        other.id,
    )

    async def counted() -> bool:
        after = await _rejections(world)
        return all(after[n] == before[n] + 2 for n in NODES)

    await eventually(counted, timeout=30, interval=0.3)
    assert await _served_everywhere(world, doctor_token, record_id)

"""Faults (issue 19, part 7): kill -9 an SRS node mid-grant, owner-api mid-upload; nothing
is lost or doubled (the ledger replicas' own kill test is test_ledger_crash.py).

The session stack is used (a service down for a moment is a state the others tolerate) and
the killed service is started again in the test, so no other test sees it down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from phr.client import OwnerKeys
from phr.client.record import EncryptedRecord, encrypt_record
from phr.sdk.errors import ApiError
from phr.sdk.records import new_record_id
from tests.support.grants import BUNDLE, NODES, World, grant_world
from tests.support.ledger import LEDGER_DBS, entries_from_db, service_headers
from tests.support.sharing import kill, restart, service_spec
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def world(stack: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield await grant_world(stack, http)


async def test_an_srs_node_killed_mid_grant_loses_and_doubles_nothing(
    stack: Any, world: World
) -> None:
    doctor = await world.staff("doctor")
    await world.upload()
    grants = [await world.sharing.grant_user(world.pid, doctor.user_id, ["labs"])]
    # more grants in flight while srs-2 dies (each one event every node applies)
    pending = [
        asyncio.ensure_future(world.sharing.grant_user(world.pid, doctor.user_id, ["labs"]))
        for _ in range(6)
    ]
    await kill(stack, "srs-2")
    grants += await asyncio.gather(*pending)
    ids = sorted(g.grant_id for g in grants)

    started = time.monotonic()
    stack.start_service(service_spec("srs-2"))
    url = world.registry.url("srs-2")

    async def ready() -> dict[str, Any] | None:
        try:
            r = await world.http.get(f"{url}/readyz")
        except httpx.TransportError:
            return None
        return r.json() if r.status_code == 200 else None

    body = await eventually(ready, timeout=120, interval=0.2)
    assert body is not None
    ready_s = time.monotonic() - started
    print(f"srs-2 ready {ready_s:.1f} s after its restart; readiness: {body}")
    lag = body["details"]["events"]["lag"]
    assert lag is None or lag >= 0

    async def every_grant_once_everywhere() -> bool:
        for node in NODES:
            listed = await world.node_grants(node)
            if sorted(g["grant_id"] for g in listed) != ids:
                return False
        return True

    await eventually(every_grant_once_everywhere, timeout=60, interval=0.5)
    # the ledger holds each grant's event exactly once
    ledger = world.registry.url("ledger")

    async def sealed() -> list[str]:
        r = await world.http.get(
            f"{ledger}/v1/events",
            params={"type": "acl.granted", "subject": world.pid},
            headers=service_headers(stack),
        )
        got = [e["data"]["grant_id"] for e in r.json()]
        assert sorted(got) == ids, got
        return got

    await eventually(sealed, timeout=30, interval=0.5)

    async def caught_up() -> bool:
        body = await ready()
        return body is not None and body["details"]["events"]["lag"] == 0

    await eventually(caught_up, timeout=30, interval=0.5)


async def test_owner_api_killed_mid_upload_loses_and_doubles_nothing(
    stack: Any, world: World
) -> None:
    patient = world.patient

    def encrypted() -> EncryptedRecord:
        return encrypt_record(
            BUNDLE,
            patient_id=world.pid,
            record_id=new_record_id(),
            keys=OwnerKeys(patient.master),
            author=patient.user.keys.signing,
            validate=False,
        )

    # three uploads begun and their segments in S3, not committed: surely mid-upload
    # when owner-api dies; three more in flight as it dies, wherever they are
    begun, racing = [encrypted() for _ in range(3)], [encrypted() for _ in range(3)]
    async with patient.records() as records:
        for rec in begun:
            state = await records.begin_upload(
                world.pid,
                rec.signed_manifest,
                {n: s.tags for n, s in rec.segments.items()},
                "up_" + rec.manifest.record_id,
            )
            sizes = {s.name: s.size for s in rec.signed_manifest.manifest.segments}
            for name, put in state.urls.items():
                await records.send_segment(put, rec.segments[name].ciphertext, sizes[name])
        flying = [asyncio.ensure_future(records.upload_encrypted_record(r)) for r in racing]
        await asyncio.sleep(0.05)
        await kill(stack, "owner-api")
        outcomes = await asyncio.gather(*flying, return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(o, ApiError | httpx.TransportError) for o in failed), failed
    print(f"owner-api killed with {len(begun) + len(failed)} of 6 uploads unfinished")
    await asyncio.to_thread(restart, stack, "owner-api")

    async with patient.records() as records:
        # nothing half-uploaded is a record
        listed = {r.record_id for r in await records.list_records(world.pid)}
        assert not listed & {r.manifest.record_id for r in begun}
        # the caller retries what it did not see succeed, as the SDK's callers do
        for rec in begun:
            await records.upload_segments(
                rec.signed_manifest,
                tags={n: s.tags for n, s in rec.segments.items()},
                sources={n: s.ciphertext for n, s in rec.segments.items()},
                upload_id="up_" + rec.manifest.record_id,
            )
        for rec, outcome in zip(racing, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                await records.upload_encrypted_record(rec)
            await records.upload_encrypted_record(rec)  # and once more: a no-op
        got = [r.record_id for r in await records.list_records(world.pid)]
    ids = sorted(r.manifest.record_id for r in begun + racing)
    assert sorted(i for i in got if i in ids) == ids  # each record once, all of them

    ledger = world.registry.url("ledger")

    async def uploaded_once() -> bool:
        r = await world.http.get(
            f"{ledger}/v1/events",
            params={"type": "record.uploaded", "subject": world.pid},
            headers=service_headers(stack),
        )
        got = sorted(e["data"]["record_id"] for e in r.json() if e["data"]["record_id"] in ids)
        assert len(got) <= len(ids) and len(set(got)) == len(got), got  # never doubled
        return got == ids

    await eventually(uploaded_once, timeout=60, interval=0.5)

    async def replicas_agree() -> bool:
        per_db = [
            [d["e"] for d in await entries_from_db(stack, db, world.pid)] for db in LEDGER_DBS
        ]
        return per_db[0] == per_db[1] and len(set(per_db[0])) == len(per_db[0])

    await eventually(replicas_agree, timeout=60, interval=0.5)

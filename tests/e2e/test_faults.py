"""Faults (issue 19, part 7): kill -9 an SRS node mid-grant; nothing is lost or doubled.

The session stack is used (one node down is a state the others tolerate) and the node is
started again in the test, so no other test sees it down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.grants import NODES, World, grant_world
from tests.support.ledger import service_headers
from tests.support.sharing import kill, service_spec
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

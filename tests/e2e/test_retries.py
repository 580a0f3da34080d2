"""Retries are safe (issue 19 part 5): a grant retried with fresh kfrags is one grant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from phr.sdk.errors import ApiError
from tests.support.grants import NODES, World, grant_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def world(stack: Any) -> AsyncIterator[World]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield await grant_world(stack, http)


async def test_a_grant_retried_with_fresh_kfrags_succeeds_exactly_once(world: World) -> None:
    doctor = await world.staff("doctor")
    doctor_token = await world.kgc.login(doctor)
    record_id = await world.upload()
    # The SDK makes new random kfrags on every call: a retry after a timeout (the first
    # attempt may or may not have been recorded) sends other bytes for the same terms.
    first = await world.sharing.grant_user(world.pid, doctor.user_id, ["labs"])
    again = await world.sharing.grant_user(
        world.pid, doctor.user_id, ["labs"], grant_id=first.grant_id
    )
    # the stored grant (Mongo keeps milliseconds of its creation time)
    assert again.model_dump(exclude={"created_at"}) == first.model_dump(exclude={"created_at"})
    assert abs(again.created_at - first.created_at) < timedelta(milliseconds=1)
    # other terms under the same id are still a conflict
    with pytest.raises(ApiError) as conflict:
        await world.sharing.grant_user(
            world.pid, doctor.user_id, ["labs", "notes"], grant_id=first.grant_id
        )
    assert conflict.value.status == 409
    assert [g.grant_id for g in await world.sharing.list_grants(world.pid)] == [first.grant_id]

    async def served() -> bool:
        return set(await world.denials(doctor_token, record_id, "labs")) == {"granted"}

    await eventually(served, timeout=30, interval=0.3)
    for node in NODES:
        (listed,) = await world.node_grants(node)
        assert listed["grant_id"] == first.grant_id

"""ReadCache: reads served from memory until the next applied event, never a stale one."""

from __future__ import annotations

import asyncio

from srs.cache import ReadCache
from srs.memory import MemoryStore
from srs.models import UserInfo

from .conftest import DOCTOR, World


class CountingStore(MemoryStore):
    """A MemoryStore that counts user reads and can hold one until released."""

    def __init__(self) -> None:
        super().__init__()
        self.user_reads = 0
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def get_user(self, user_id: str, session: object = None) -> UserInfo | None:
        self.user_reads += 1
        found = await super().get_user(user_id)
        if self.gate is not None:
            self.reading.set()
            await self.gate.wait()
        return found


def user(revoked: bool = False) -> UserInfo:
    return UserInfo(user_id=DOCTOR, role="doctor", ed25519_fp="fp", revoked=revoked)


async def test_reads_come_from_memory_until_invalidated(world: World) -> None:
    store = CountingStore()
    await store.put_user(user())
    cache = ReadCache(store, world.nodes["srs-1"].identity)
    for _ in range(3):
        assert await cache.get_user(DOCTOR) == user()
    assert store.user_reads == 1 and cache.hits == 2
    await store.revoke_user(DOCTOR)
    assert not (await cache.get_user(DOCTOR) or user()).revoked  # not told yet
    cache.invalidate()
    assert (await cache.get_user(DOCTOR) or user()).revoked
    assert store.user_reads == 2


async def test_a_read_racing_an_event_is_not_kept(world: World) -> None:
    """Read starts, the event commits and invalidates, the read returns the old value:
    that value is answered once but not cached, so the next read sees the event."""
    store = CountingStore()
    await store.put_user(user())
    cache = ReadCache(store, world.nodes["srs-1"].identity)
    store.gate = asyncio.Event()
    slow = asyncio.ensure_future(cache.get_user(DOCTOR))
    await store.reading.wait()
    await store.revoke_user(DOCTOR)  # the event's transaction commits ...
    cache.invalidate()  # ... and the consumer's after-commit hook runs
    store.gate.set()
    assert not (await slow or user()).revoked  # read before the commit: old value
    store.gate = None
    assert (await cache.get_user(DOCTOR) or user()).revoked
    assert store.user_reads == 2


async def test_capacity_zero_caches_nothing(world: World) -> None:
    store = CountingStore()
    await store.put_user(user())
    cache = ReadCache(store, world.nodes["srs-1"].identity, capacity=0)
    for _ in range(3):
        await cache.get_user(DOCTOR)
    assert store.user_reads == 3 and cache.hits == 0


async def test_a_revoked_grant_has_no_ready_kfrag_after_the_event(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs",))
    await world.everywhere(world.granted(data))
    node = world.nodes["srs-1"]
    cache = ReadCache(node.store, node.identity)
    node.after_apply.append(cache.invalidate)
    ready = await cache.ready_grant(data.patient_id, data.grant_id, "labs", 1)
    assert ready is not None and ready.key_grant.grant_id == data.grant_id
    assert ready.document.grant_id.startswith(data.grant_id)  # per segment and version
    assert "secret" in repr(ready.kfrag)
    assert await cache.ready_grant(data.patient_id, data.grant_id, "labs", 1) is ready  # kept
    await world.everywhere(world.revoked(data.grant_id))
    assert await cache.ready_grant(data.patient_id, data.grant_id, "labs", 1) is None

"""The ledger store contract (ledger.store.Store), run against memory and MongoDB."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from ledger.errors import SequencerConflict
from ledger.store import (
    BlockWrite,
    Entry,
    Head,
    MemoryStore,
    MongoStore,
    Rejection,
    Store,
    StoredBlock,
)
from phr.ledger.block import BlockHeader
from phr.service.mongo import Document


def h(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def entry(i: int, height: int, subject: str = "p1", type: str = "acl.granted") -> Entry:
    return Entry(i, f"ev-{i}", subject, height, 1_000 + i, b"leaf-%d" % i, type)


def block(height: int, entries: list[Entry]) -> BlockWrite:
    header = BlockHeader(
        height=height,
        prev_hash=h(f"block-{height - 1}"),
        merkle_root=h(f"root-{height}"),
        count=len(entries),
        log_size=entries[-1].leaf_index + 1 if entries else 0,
        log_root=h(f"log-{height}"),
        time_us=2_000 + height,
        first_offset=10 * height,
        next_offset=10 * height + 10,
    )
    return StoredBlock(header, b"sig-%d" % height), entries


def head_after(writes: list[BlockWrite]) -> Head:
    last = writes[-1][0].header
    return Head(
        height=last.height,
        hash=last.hash(),
        next_offset=last.next_offset,
        time_us=last.time_us,
        log_size=last.log_size,
        log_hashes=(h("a"), h("b")),
    )


class LedgerStoreContract:
    """Every implementation of ledger.store.Store passes these; subclasses supply ``store``."""

    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        raise NotImplementedError
        yield

    async def test_an_empty_store(self, store: Store) -> None:
        assert await store.head() == Head()
        assert await store.block(0) is None
        assert await store.entries(0, 10) == []
        assert await store.known_event_ids(["ev-0"]) == set()
        assert await store.known_event_ids([]) == set()
        assert await store.rejection_count() == 0

    async def test_blocks_entries_chunks_and_head_read_back(self, store: Store) -> None:
        writes = [block(0, [entry(0, 0), entry(1, 0)]), block(1, [entry(2, 1, "p2")])]
        await store.save_blocks(
            writes, {(0, 0): b"chunk-a", (1, 0): b"chunk-b"}, head_after(writes)
        )
        assert await store.head() == head_after(writes)
        assert await store.block(1) == writes[1][0]
        assert await store.entries(0, 3) == [entry(0, 0), entry(1, 0), entry(2, 1, "p2")]
        assert await store.entries(1, 2) == [entry(1, 0)]
        assert await store.entry_by_event("ev-2") == entry(2, 1, "p2")
        assert await store.entry_by_event("ev-9") is None
        assert await store.known_event_ids(["ev-0", "ev-9"]) == {"ev-0"}
        assert await store.chunks([(0, 0), (5, 5)]) == {(0, 0): b"chunk-a"}

    async def test_a_block_that_does_not_follow_the_head_changes_nothing(
        self, store: Store
    ) -> None:
        first = [block(0, [entry(0, 0)])]
        await store.save_blocks(first, {}, head_after(first))
        for stale in ([block(0, [entry(1, 0)])], [block(2, [entry(1, 2)])]):
            with pytest.raises(SequencerConflict):
                await store.save_blocks(stale, {(9, 9): b"x"}, head_after(stale))
        assert await store.head() == head_after(first)
        assert await store.block(2) is None
        assert await store.entry_by_event("ev-1") is None
        assert await store.chunks([(9, 9)]) == {}

    async def test_an_event_stored_already_refuses_the_whole_batch(self, store: Store) -> None:
        first = [block(0, [entry(0, 0)])]
        await store.save_blocks(first, {}, head_after(first))
        replay = [block(1, [Entry(1, "ev-0", "p1", 1, 5, b"again")])]
        with pytest.raises(SequencerConflict):
            await store.save_blocks(replay, {(1, 1): b"x"}, head_after(replay))
        assert await store.head() == head_after(first)
        assert await store.block(1) is None
        assert await store.entries(0, 5) == [entry(0, 0)]

    async def test_a_batch_must_run_up_to_its_head(self, store: Store) -> None:
        gap = [block(0, [entry(0, 0)]), block(2, [entry(1, 2)])]
        with pytest.raises(SequencerConflict):
            await store.save_blocks(gap, {}, head_after(gap))
        with pytest.raises(ValueError):
            await store.save_blocks([], {}, Head())
        assert await store.head() == Head()

    async def test_entries_by_subject_and_type_in_log_order(self, store: Store) -> None:
        entries = [
            entry(0, 0, "p1", "acl.granted"),
            entry(1, 0, "p2", "acl.granted"),
            entry(2, 0, "p1", "acl.revoked"),
            entry(3, 0, "p1", "acl.granted"),
        ]
        writes = [block(0, entries)]
        await store.save_blocks(writes, {}, head_after(writes))
        by_subject = await store.entries_by_subject("p1", 2)
        assert [e.leaf_index for e in by_subject] == [0, 2]
        found = await store.find_entries(subject="p1", type="acl.granted", limit=10)
        assert [e.leaf_index for e in found] == [0, 3]
        typed = await store.find_entries(subject=None, type="acl.granted", limit=10)
        assert [e.leaf_index for e in typed] == [0, 1, 3]
        every = await store.find_entries(subject=None, type=None, limit=3)
        assert [e.leaf_index for e in every] == [0, 1, 2]

    async def test_rejections_count_once_per_offset(self, store: Store) -> None:
        await store.record_rejections([Rejection(7, "bad signature", "ev-x")])
        await store.record_rejections([Rejection(7, "bad signature", "ev-x"), Rejection(8, "?")])
        assert await store.rejection_count() == 2


class TestMemoryLedgerStore(LedgerStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        yield MemoryStore()


@pytest.mark.e2e
class TestMongoLedgerStore(LedgerStoreContract):
    @pytest.fixture
    async def store(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[Store]:
        store = MongoStore(mongo_db)
        await store.ensure_indexes()
        yield store

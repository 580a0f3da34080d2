"""cloud-store's contracts (cloud_store.store): blobs on memory and S3, tags on memory and
MongoDB."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from cloud_store.blobs import BlobMismatch, BlobMissing
from cloud_store.index import TagIndex
from cloud_store.memory import MemoryBlobs, MemoryTags
from cloud_store.store import BlobStorage, TagStore
from phr.service.mongo import Document
from tests.support.records import blob_store


async def chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStorageContract:
    """Every BlobStorage passes these; subclasses supply ``blobs`` and a key prefix."""

    @pytest.fixture
    async def blobs(self) -> AsyncIterator[BlobStorage]:
        raise NotImplementedError
        yield

    @pytest.fixture
    def key(self) -> str:
        return f"contract/{uuid4().hex}/seg"

    async def test_a_blob_reads_back_whole_and_streamed(self, blobs: BlobStorage, key: str) -> None:
        data = bytes(range(256)) * 40
        stored = await blobs.put_stream(
            key, chunks_of(data), expected_size=len(data), expected_sha256=sha(data)
        )
        assert (stored.key, stored.size, stored.sha256) == (key, len(data), sha(data))
        assert await blobs.get_bytes(key) == data
        assert b"".join([c async for c in await blobs.get_stream(key)]) == data

    @pytest.mark.parametrize("lie", ["size", "sha256", "longer"])
    async def test_a_blob_unlike_its_announcement_leaves_nothing(
        self, blobs: BlobStorage, key: str, lie: str
    ) -> None:
        data = b"ciphertext" * 100
        size = {"size": len(data) + 1, "longer": len(data) - 1}.get(lie, len(data))
        digest = sha(b"other") if lie == "sha256" else sha(data)
        with pytest.raises(BlobMismatch):
            await blobs.put_stream(key, chunks_of(data), expected_size=size, expected_sha256=digest)
        with pytest.raises(BlobMissing):
            await blobs.get_bytes(key)

    async def test_a_removed_blob_is_missing_and_removing_again_is_fine(
        self, blobs: BlobStorage, key: str
    ) -> None:
        await blobs.put_stream(key, chunks_of(b"x"), expected_size=1, expected_sha256=sha(b"x"))
        await blobs.remove(key)
        await blobs.remove(key)
        with pytest.raises(BlobMissing):
            await blobs.get_bytes(key)
        with pytest.raises(BlobMissing):
            await blobs.get_stream(key)

    async def test_it_answers_a_ping(self, blobs: BlobStorage) -> None:
        await blobs.ping(5)


class TagStoreContract:
    @pytest.fixture
    async def tags(self) -> AsyncIterator[TagStore]:
        raise NotImplementedError
        yield

    async def test_search_finds_segments_with_every_trapdoor(self, tags: TagStore) -> None:
        a, b, c = "a" * 64, "b" * 64, "c" * 64
        await tags.put_record("p2", "r1", {"labs": [a, b], "notes": [a]})
        await tags.put("p1", "r9", "labs", [b, a, a])
        await tags.put("p1", "r1", "meds", [c])
        found = await tags.search([a, b], None, 10)
        assert found == [
            {"patient_id": "p1", "record_id": "r9", "segment": "labs"},
            {"patient_id": "p2", "record_id": "r1", "segment": "labs"},
        ]
        assert await tags.search([a], ["p2"], 1) == [
            {"patient_id": "p2", "record_id": "r1", "segment": "labs"}
        ]
        assert await tags.search([a, c], None, 10) == []

    async def test_tags_are_replaced_per_segment_and_removed_per_record(
        self, tags: TagStore
    ) -> None:
        a, b = "a" * 64, "b" * 64
        await tags.put_record("p1", "r1", {"labs": [a], "notes": [a]})
        await tags.put_record("p1", "r1", {"labs": [b]})
        assert [m["segment"] for m in await tags.search([a], None, 10)] == ["notes"]
        assert await tags.remove_record("p1", "r1") == 2
        assert await tags.search([b], None, 10) == []
        assert await tags.remove_record("p1", "r1") == 0

    async def test_blob_records_are_replaced_and_forgotten(self, tags: TagStore) -> None:
        assert await tags.blob("k") is None
        await tags.record_blob("k", 3, "1" * 64)
        await tags.record_blob("k", 4, "2" * 64)
        got = await tags.blob("k") or {}
        assert (got["size"], got["sha256"]) == (4, "2" * 64)
        await tags.forget_blob("k")
        assert await tags.blob("k") is None


class TestMemoryBlobs(BlobStorageContract):
    @pytest.fixture
    async def blobs(self) -> AsyncIterator[BlobStorage]:
        yield MemoryBlobs(chunk=777)


class TestMemoryTags(TagStoreContract):
    @pytest.fixture
    async def tags(self) -> AsyncIterator[TagStore]:
        yield MemoryTags()


@pytest.mark.e2e
class TestS3Blobs(BlobStorageContract):
    @pytest.fixture
    async def blobs(self, stack: Any) -> AsyncIterator[BlobStorage]:
        store = blob_store(stack)
        await store.ensure_bucket()
        try:
            yield store
        finally:
            store.close()


@pytest.mark.e2e
class TestMongoTags(TagStoreContract):
    @pytest.fixture
    async def tags(self, mongo_db: AsyncDatabase[Document]) -> AsyncIterator[TagStore]:
        index = TagIndex(mongo_db)
        await index.ensure_indexes()
        yield index

"""cloud-store's two write paths (one S3 PUT up to one part, streamed multipart beyond)
store the same bytes, and refuse a body that differs from what was announced the same
way: nothing left under the key."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cloud_store.blobs import PART_SIZE, BlobMismatch, BlobMissing
from tests.support.records import blob_store

pytestmark = pytest.mark.e2e


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


@pytest.mark.parametrize("length", [0, 1, 70_000, PART_SIZE, PART_SIZE + 1])
async def test_both_paths_store_the_announced_bytes(stack: Any, length: int) -> None:
    blobs = blob_store(stack)
    data = os.urandom(length)
    key = f"test-blob-paths/{length}"
    stored = await blobs.put_stream(
        key,
        pieces(data, 65_536),
        expected_size=length,
        expected_sha256=hashlib.sha256(data).hexdigest(),
    )
    try:
        assert (stored.size, stored.sha256) == (length, hashlib.sha256(data).hexdigest())
        assert await blobs.stat(key) == length
        assert await blobs.get_bytes(key) == data
        assert b"".join([c async for c in await blobs.get_stream(key)]) == data
    finally:
        await blobs.remove(key)


@pytest.mark.parametrize("length", [70_000, PART_SIZE + 1])
async def test_a_body_unlike_its_announcement_leaves_nothing(stack: Any, length: int) -> None:
    blobs = blob_store(stack)
    data = os.urandom(length)
    sha = hashlib.sha256(data).hexdigest()
    key = f"test-blob-paths/bad-{length}"
    flipped = data[:-1] + bytes([data[-1] ^ 1])
    cases = [
        (flipped, length, "SHA-256"),  # same size, other bytes
        (data[:-1], length, "size"),  # short
        (data + b"!", length, "more than"),  # long
    ]
    for body, announced, word in cases:
        with pytest.raises(BlobMismatch, match=word):
            await blobs.put_stream(
                key, pieces(body, 65_536), expected_size=announced, expected_sha256=sha
            )
        with pytest.raises(BlobMissing):
            await blobs.get_bytes(key)

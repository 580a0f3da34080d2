"""cloud-store's stores in memory (fast tests), held to :mod:`cloud_store.store`'s contract."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from cloud_store.blobs import BlobMismatch, BlobMissing, StoredBlob
from cloud_store.store import BlobStorage, TagStore


class MemoryBlobs:
    def __init__(self, chunk: int = 64 * 1024) -> None:
        self.objects: dict[str, bytes] = {}
        self.chunk = chunk

    async def ping(self, timeout: float) -> None:
        return None

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        expected_size: int,
        expected_sha256: str,
    ) -> StoredBlob:
        self.objects.pop(key, None)
        data = bytearray()
        async for chunk in chunks:
            data += chunk
            if len(data) > expected_size:
                raise BlobMismatch(f"more than the announced {expected_size} bytes")
        sha = hashlib.sha256(data).hexdigest()
        if len(data) != expected_size or sha != expected_sha256:
            raise BlobMismatch(f"size or SHA-256 differs ({len(data)} bytes, {sha})")
        self.objects[key] = bytes(data)
        return StoredBlob(key, len(data), sha)

    async def get_bytes(self, key: str) -> bytes:
        if key not in self.objects:
            raise BlobMissing(key)
        return self.objects[key]

    async def stored_checksum(self, key: str) -> tuple[int, str | None]:
        data = await self.get_bytes(key)
        return len(data), hashlib.sha256(data).hexdigest()

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        data = await self.get_bytes(key)

        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(data), self.chunk):
                yield data[i : i + self.chunk]

        return chunks()

    async def remove(self, key: str) -> None:
        self.objects.pop(key, None)


class MemoryTags:
    def __init__(self) -> None:
        self.tags: dict[tuple[str, str, str], list[str]] = {}
        self.blobs: dict[str, dict[str, Any]] = {}

    async def put(self, patient_id: str, record_id: str, segment: str, tags: list[str]) -> None:
        await self.put_record(patient_id, record_id, {segment: tags})

    async def put_record(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None:
        for segment, tags in segments.items():
            self.tags[(patient_id, record_id, segment)] = sorted(set(tags))

    async def remove_record(self, patient_id: str, record_id: str) -> int:
        doomed = [k for k in self.tags if k[:2] == (patient_id, record_id)]
        for k in doomed:
            del self.tags[k]
        return len(doomed)

    async def search(
        self, trapdoors: list[str], patient_ids: list[str] | None, limit: int
    ) -> list[dict[str, str]]:
        wanted = set(trapdoors)
        found = sorted(
            k
            for k, tags in self.tags.items()
            if wanted <= set(tags) and (patient_ids is None or k[0] in patient_ids)
        )
        return [{"patient_id": p, "record_id": r, "segment": s} for p, r, s in found[:limit]]

    async def record_blob(self, key: str, size: int, sha256: str) -> None:
        self.blobs[key] = {"size": size, "sha256": sha256, "stored_at": datetime.now(UTC)}

    async def blob(self, key: str) -> dict[str, Any] | None:
        found = self.blobs.get(key)
        return None if found is None else {"_id": key, **found}

    async def forget_blob(self, key: str) -> None:
        self.blobs.pop(key, None)


def _conforms(blobs: MemoryBlobs, tags: MemoryTags) -> tuple[BlobStorage, TagStore]:
    return blobs, tags  # mypy checks both against their contracts

"""cloud-store's two stores as contracts: ciphertext objects and the keyword-tag index.

Implementations: :class:`cloud_store.blobs.BlobStore` (S3) and
:class:`cloud_store.index.TagIndex` (Mongo), :mod:`cloud_store.memory` (fast tests);
``tests/contracts/test_cloud_store.py`` holds each pair to the contract written here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from cloud_store.blobs import StoredBlob


class BlobStorage(Protocol):
    """Ciphertext objects by key. Errors: ``BlobMissing``, ``BlobUnavailable``,
    ``BlobMismatch`` (from :mod:`cloud_store.blobs`)."""

    async def ping(self, timeout: float) -> None:
        """Raise unless the storage answers within ``timeout`` seconds."""
        ...

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        expected_size: int,
        expected_sha256: str,
    ) -> StoredBlob:
        """Store the stream under ``key`` (replacing what was there) only if its size
        and SHA-256 are the announced ones; on a mismatch ``BlobMismatch`` and nothing
        is left under ``key``."""
        ...

    async def get_bytes(self, key: str) -> bytes:
        """The whole object; ``BlobMissing`` if there is none."""
        ...

    async def stored_checksum(self, key: str) -> tuple[int, str | None]:
        """Size and the storage's own SHA-256 (hex) of the object, None if it keeps
        none; ``BlobMissing`` if there is no object."""
        ...

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; ``BlobMissing`` before any byte if none."""
        ...

    async def remove(self, key: str) -> None:
        """Delete the object; removing a missing one is not an error."""
        ...


class TagStore(Protocol):
    """Keyword tags per segment and the size and SHA-256 of every stored blob."""

    async def put(self, patient_id: str, record_id: str, segment: str, tags: list[str]) -> None:
        """Replace the segment's tags (idempotent)."""
        ...

    async def put_record(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None:
        """Replace the tags of each segment named (others of the record stay)."""
        ...

    async def remove_record(self, patient_id: str, record_id: str) -> int:
        """Drop every segment's tags of the record; how many segments had tags."""
        ...

    async def search(
        self, trapdoors: list[str], patient_ids: list[str] | None, limit: int
    ) -> list[dict[str, str]]:
        """Segments carrying every trapdoor (of those patients, if given), as
        ``{patient_id, record_id, segment}`` sorted by those, at most ``limit``."""
        ...

    async def record_blob(self, key: str, size: int, sha256: str) -> None:
        """Remember (or replace) a stored blob's size and SHA-256."""
        ...

    async def blob(self, key: str) -> dict[str, Any] | None:
        """``{size, sha256, …}`` of the blob, or None."""
        ...

    async def forget_blob(self, key: str) -> None: ...

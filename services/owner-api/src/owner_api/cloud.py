"""cloud-store over HTTP, with this service's own token: blobs streamed both ways, tags.

Ciphertext is never buffered whole: an upload hands the request body's chunks straight
to the outgoing request, a download hands the response's chunks to the caller. Every
failure to reach cloud-store (or cloud-store's own 503 for S3) becomes
:class:`StorageUnavailable`, so the caller can tell the client to retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from owner_api.errors import SegmentCorrupted, SegmentMismatch, SegmentNotFound, StorageUnavailable
from phr.service.http import HttpResponse, ServiceHttp, TransportFailed
from phr.service.problems import DomainError

log = structlog.get_logger("owner_api.cloud")

TokenSource = Callable[[], str]
#: a call carrying ciphertext (a segment up or down) may take this long
BLOB_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BlobDownload:
    """An open download: ``chunks`` must be consumed or closed (``aclose``)."""

    size: int
    sha256: str
    chunks: AsyncIterator[bytes]


class CloudStore:
    """The calls owner-api makes to cloud-store."""

    def __init__(self, base_url: str, token: TokenSource, *, timeout_s: float) -> None:
        # Uploads and downloads of big segments take long (a ciphertext call gets
        # BLOB_TIMEOUT_S); calls without ciphertext use ``timeout_s``.
        self._base = base_url.rstrip("/")
        self._http = ServiceHttp(timeout_s=timeout_s, limit=64)
        self._token = token

    async def aclose(self) -> None:
        await self._http.aclose()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}"}

    async def put_blob(
        self, key: str, chunks: AsyncIterator[bytes], *, size: int, sha256: str
    ) -> None:
        """Stream ``chunks`` to ``key``; cloud-store keeps them only if size and SHA-256 match."""
        headers = self._auth() | {
            "X-Content-SHA256": sha256,
            "X-Content-Length": str(size),
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
        try:
            resp = await self._http.upload(
                "PUT",
                f"{self._base}/v1/blobs/{key}",
                chunks,
                headers=headers,
                timeout_s=BLOB_TIMEOUT_S,
            )
        except TransportFailed as exc:
            raise StorageUnavailable(
                f"cloud-store connection failed while storing ({exc.reason})"
            ) from exc
        if resp.status == 422:
            raise SegmentMismatch(f"segment bytes do not match the manifest: {_detail(resp)}")
        _raise_for(resp, key)

    async def open_blob(self, key: str) -> BlobDownload:
        """Start a download; errors (missing, corrupted, S3 down) come before any byte."""
        try:
            url = f"{self._base}/v1/blobs/{key}"
            resp = await self._http.stream(
                "GET", url, headers=self._auth(), timeout_s=BLOB_TIMEOUT_S
            )
            if resp.status != 200:
                _raise_for(HttpResponse(resp.status, resp.headers, await resp.read()), key)
        except TransportFailed as exc:
            raise StorageUnavailable(f"cloud-store connection failed ({exc.reason})") from exc
        return BlobDownload(
            size=int(resp.headers.get("X-Content-Length", "0")),
            sha256=resp.headers.get("X-Content-SHA256", ""),
            chunks=_storage_errors(resp.chunks()),
        )

    async def delete_blob(self, key: str) -> None:
        """Remove ``key``; removing a missing object succeeds (idempotent)."""
        await self._call("DELETE", f"/v1/blobs/{key}", missing_ok=True)

    async def put_tags(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None:
        """Set the keyword tags of a record's segments (one call, idempotent)."""
        path = f"/v1/index/{patient_id}/{record_id}"
        await self._call("PUT", path, json={"segments": segments})

    async def delete_tags(self, patient_id: str, record_id: str) -> None:
        await self._call("DELETE", f"/v1/index/{patient_id}/{record_id}")

    async def _call(
        self, method: str, path: str, *, json: Any = None, missing_ok: bool = False
    ) -> None:
        try:
            resp = await self._http.request(
                method, f"{self._base}{path}", json=json, headers=self._auth()
            )
        except TransportFailed as exc:
            raise StorageUnavailable(f"cloud-store connection failed ({exc.reason})") from exc
        if missing_ok and resp.status == 404:
            return
        _raise_for(resp, path)


async def _storage_errors(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """A download broken mid-way is cloud-store's failure, told as such."""
    try:
        async for chunk in chunks:
            yield chunk
    except TransportFailed as exc:
        raise StorageUnavailable(f"cloud-store connection broke ({exc.reason})") from exc


def _detail(resp: HttpResponse) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200]
    return str(body.get("detail", "")) if isinstance(body, dict) else ""


def _raise_for(resp: HttpResponse, what: str) -> None:
    status = resp.status
    if status < 300:
        return
    detail = _detail(resp)
    if status == 404:
        raise SegmentNotFound(f"ciphertext {what} is missing from storage")
    if status == 502:
        raise SegmentCorrupted(
            f"ciphertext {what} failed its SHA-256 check in storage: {detail}; "
            "it was altered after upload"
        )
    if status in (503, 504):
        raise StorageUnavailable(f"cloud-store: {detail or 'unavailable'}")
    # Anything else is our bug (bad token, bad key): a 500, the cause only in the log.
    log.error("cloud_store.refused", status=status, detail=detail)
    raise _Unexpected("cloud-store refused a request; quote the correlation id")


class _Unexpected(DomainError):
    status, title, slug = 500, "Internal error", "internal"

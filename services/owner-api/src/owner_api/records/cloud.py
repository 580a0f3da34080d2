"""cloud-store over HTTP, with this service's own token: presigned uploads, downloads, tags.

Uploads do not pass here: cloud-store presigns S3 PUT URLs that the client uses
itself, and checks at commit what S3 stored. A download (the patient's own record)
hands the response's chunks to the caller, never buffered whole. Every
failure to reach cloud-store (or cloud-store's own 503 for S3) becomes
:class:`StorageUnavailable`, so the caller can tell the client to retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog

from owner_api.errors import SegmentCorrupted, SegmentNotFound, StorageUnavailable
from phr.service.http import HttpResponse, ServiceHttp, TransportFailed
from phr.service.problems import DomainError

log = structlog.get_logger("owner_api.records.cloud")

TokenSource = Callable[[], str]
#: a call carrying ciphertext (a segment up or down) may take this long
BLOB_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class PresignedPut:
    """Where and how the client PUTs one segment's ciphertext to S3 itself."""

    url: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class BlobDownload:
    """An open download: ``chunks`` must be consumed or closed (``aclose``)."""

    size: int
    sha256: str
    chunks: AsyncIterator[bytes]


class CloudStorage(Protocol):
    """What the record use cases need of cloud-store (:class:`CloudStore` over HTTP; an
    in-process fake in the fast tier). The methods' contracts are :class:`CloudStore`'s."""

    async def presign_puts(
        self, objects: list[tuple[str, str, int]], expires_s: int
    ) -> dict[str, PresignedPut]: ...

    async def verify_stored(self, objects: list[tuple[str, str, int]]) -> dict[str, list[str]]: ...

    async def open_blob(self, key: str) -> BlobDownload: ...

    async def delete_blob(self, key: str) -> None: ...

    async def put_tags(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None: ...

    async def delete_tags(self, patient_id: str, record_id: str) -> None: ...


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

    async def presign_puts(
        self, objects: list[tuple[str, str, int]], expires_s: int
    ) -> dict[str, PresignedPut]:
        """A presigned S3 PUT per ``(key, sha256, size)``: S3 itself accepts only the bytes
        of that SHA-256 (the signed ``x-amz-checksum-sha256`` header)."""
        body = {
            "objects": [
                {"key": k, "method": "PUT", "sha256": sha, "size": size} for k, sha, size in objects
            ],
            "expires_s": expires_s,
        }
        urls = await self._json("POST", "/v1/presign", body)
        return {
            str(u["key"]): PresignedPut(
                str(u["url"]), dict(u["headers"]), datetime.fromisoformat(u["expires_at"])
            )
            for u in urls["urls"]
        }

    async def verify_stored(self, objects: list[tuple[str, str, int]]) -> dict[str, list[str]]:
        """Which of ``(key, sha256, size)`` S3 holds as announced (``stored``), which not
        (``missing``, ``mismatched``); the stored ones get cloud-store's integrity record."""
        body = {"objects": [{"key": k, "sha256": sha, "size": n} for k, sha, n in objects]}
        out = await self._json("POST", "/v1/blobs/verify", body)
        return {k: [str(x) for x in out[k]] for k in ("stored", "missing", "mismatched")}

    async def _json(self, method: str, path: str, body: Any) -> dict[str, Any]:
        try:
            resp = await self._http.request(
                method, f"{self._base}{path}", json=body, headers=self._auth()
            )
        except TransportFailed as exc:
            raise StorageUnavailable(f"cloud-store connection failed ({exc.reason})") from exc
        _raise_for(resp, path)
        out: dict[str, Any] = resp.json()
        return out

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

"""Ciphertext blobs in S3: the only module that imports minio.

The minio client is synchronous. Uploads stream: the request body is handed chunk by
chunk through a bounded queue to ``put_object`` running in a worker thread (multipart,
one part in flight), while SHA-256 is computed on the event loop. Downloads stream the
other way. Memory stays bounded by the queue plus one S3 part, whatever the size.
Retries are off so that a stopped S3 shows up as an error at once, not a hung request.

Objects up to ``PART_SIZE`` (one S3 part, which the streaming path buffers whole
anyway) take a shorter road: the body is gathered on the loop, checked (size and
SHA-256) before S3 sees a byte, and written with one blocking call; reads of objects
that are sent only once verified are one blocking call too. That saves the queue,
the thread hand-overs and the copies per chunk, and a mismatch leaves S3 untouched.

S3 calls run on this store's own thread pool, never the loop's default one: an upload
holds a thread for its whole duration, and the loop side never waits for a thread to
hand over a chunk (the reader thread wakes it instead), so many concurrent uploads
cannot starve each other or the rest of the service.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import queue
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import urllib3
from minio import Minio
from minio.error import S3Error

from cloud_store.settings import S3Settings

PART_SIZE = 8 * 1024 * 1024  # S3 multipart part (minimum 5 MiB)
READ_CHUNK = 1024 * 1024
_QUEUE_DEPTH = 16
#: threads for S3 calls; each streaming upload or download holds one while it runs
S3_THREADS = 64
T = TypeVar("T")


class BlobMissing(Exception):
    """No object under that key."""


class BlobUnavailable(Exception):
    """S3 did not answer or failed the request."""


class BlobMismatch(Exception):
    """What arrived does not have the size or SHA-256 it was announced with."""


@dataclass(frozen=True)
class StoredBlob:
    key: str
    size: int
    sha256: str


class _QueueReader(io.RawIOBase):
    """A blocking file-like view (for the worker thread) of chunks fed from the loop."""

    def __init__(self, chunks: queue.Queue[bytes | None], on_take: Callable[[], object]) -> None:
        self._chunks = chunks
        self._on_take = on_take
        self._buffer = bytearray()
        self._eof = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or len(self._buffer) < size):
            chunk = self._chunks.get()
            self._on_take()
            if chunk is None:
                self._eof = True
            else:
                self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class BlobStore:
    """One bucket of ciphertext objects."""

    def __init__(self, settings: S3Settings) -> None:
        self.bucket = settings.bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=30.0),
            retries=urllib3.Retry(total=0, connect=0, read=0, redirect=0),
            maxsize=32,
        )
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret(),
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )
        self._pool = ThreadPoolExecutor(max_workers=S3_THREADS, thread_name_prefix="s3")

    def _thread(self, fn: Callable[..., T], *args: Any, **kw: Any) -> Awaitable[T]:
        """Run a blocking S3 call on this store's pool."""
        return asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kw))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def ensure_bucket(self) -> None:
        def make() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        await _s3(self._thread(make))

    async def ping(self, timeout: float) -> None:
        """Raise unless S3 answers for our bucket within ``timeout`` seconds."""
        exists = await asyncio.wait_for(
            self._thread(self.client.bucket_exists, self.bucket), timeout
        )
        if not exists:
            raise LookupError(f"bucket {self.bucket} is missing")

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        expected_size: int,
        expected_sha256: str,
    ) -> StoredBlob:
        """Store a stream; keep it only if its size and SHA-256 are as announced.

        On any failure (mismatch, client gone, S3 down) nothing is left under ``key``.
        """
        if expected_size <= PART_SIZE:
            return await self._put_small(key, chunks, expected_size, expected_sha256)
        feed: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        loop = asyncio.get_running_loop()
        space = asyncio.Event()
        reader = _QueueReader(feed, lambda: loop.call_soon_threadsafe(space.set))
        upload: asyncio.Future[object] = asyncio.ensure_future(
            self._thread(
                self.client.put_object,
                self.bucket,
                key,
                reader,
                -1,
                part_size=PART_SIZE,
                num_parallel_uploads=1,
            )
        )
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > expected_size:
                    raise BlobMismatch(f"more than the announced {expected_size} bytes")
                digest.update(chunk)
                await _put(feed, chunk, upload, space)
            await _put(feed, None, upload, space)
            await _s3(upload)
        except BaseException:
            await self._abandon(key, feed, upload)
            raise
        sha = digest.hexdigest()
        if size != expected_size or sha != expected_sha256:
            await self.remove(key)
            what = "size" if size != expected_size else "SHA-256"
            raise BlobMismatch(f"{what} differs from the announced one ({size} bytes, {sha})")
        return StoredBlob(key, size, sha)

    async def _put_small(
        self, key: str, chunks: AsyncIterator[bytes], expected_size: int, expected_sha256: str
    ) -> StoredBlob:
        """``put_stream`` of at most one part: check everything, then one S3 PUT."""
        pieces: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > expected_size:
                raise BlobMismatch(f"more than the announced {expected_size} bytes")
            pieces.append(chunk)
        data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        sha = hashlib.sha256(data).hexdigest()
        if size != expected_size or sha != expected_sha256:
            what = "size" if size != expected_size else "SHA-256"
            raise BlobMismatch(f"{what} differs from the announced one ({size} bytes, {sha})")
        upload: asyncio.Future[object] = asyncio.ensure_future(
            self._thread(self.client.put_object, self.bucket, key, io.BytesIO(data), len(data))
        )
        try:
            # Shielded: if the request is cancelled, the PUT still ends before the removal.
            await _s3(asyncio.shield(upload))
        except BaseException:
            await asyncio.wait([upload])
            with contextlib.suppress(BlobUnavailable, BlobMissing):
                await self.remove(key)  # else a sweeper removes it once S3 is back
            raise
        return StoredBlob(key, size, sha)

    async def _abandon(
        self, key: str, feed: queue.Queue[bytes | None], upload: asyncio.Future[object]
    ) -> None:
        """Stop a half-done upload and remove whatever it left."""
        while not upload.done():
            try:
                feed.put_nowait(None)  # unblock the reader: short read ends the upload
            except queue.Full:
                try:
                    feed.get_nowait()
                except queue.Empty:
                    pass
            await asyncio.sleep(0.01)
        try:
            await self.remove(key)
        except (BlobUnavailable, BlobMissing):
            pass  # a sweeper removes it once S3 is back

    async def put_bytes(self, key: str, data: bytes) -> StoredBlob:
        async def one() -> AsyncIterator[bytes]:
            yield data

        return await self.put_stream(
            key, one(), expected_size=len(data), expected_sha256=hashlib.sha256(data).hexdigest()
        )

    async def stat(self, key: str) -> int:
        obj = await _s3(self._thread(self.client.stat_object, self.bucket, key))
        return int(obj.size or 0)

    async def stored_checksum(self, key: str) -> tuple[int, str | None]:
        """Size and S3's own SHA-256 of an object (hex; None if S3 keeps none for it),
        read with one HEAD: the checksum S3 verified when the object was PUT."""
        obj = await _s3(
            self._thread(
                self.client.stat_object,
                self.bucket,
                key,
                extra_headers={"x-amz-checksum-mode": "ENABLED"},
            )
        )
        meta = {k.lower(): v for k, v in (obj.metadata or {}).items()}
        b64 = meta.get("x-amz-checksum-sha256")
        try:
            digest = base64.b64decode(str(b64), validate=True).hex() if b64 else None
        except ValueError:
            digest = None
        return int(obj.size or 0), digest

    async def get_stream(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks of about 1 MiB; raises BlobMissing before any byte."""
        resp = await _s3(self._thread(self.client.get_object, self.bucket, key))

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    chunk = await self._thread(resp.read, READ_CHUNK)
                    if not chunk:
                        return
                    yield chunk
            finally:
                resp.close()
                resp.release_conn()

        return chunks()

    async def get_bytes(self, key: str) -> bytes:
        """The whole object, read in one blocking call; raises BlobMissing."""

        def read() -> bytes:
            resp = self.client.get_object(self.bucket, key)
            try:
                return bytes(resp.read())
            finally:
                resp.close()
                resp.release_conn()

        return await _s3(self._thread(read))

    async def remove(self, key: str) -> None:
        await _s3(self._thread(self.client.remove_object, self.bucket, key))

    async def put_raw(self, key: str, data: bytes) -> None:
        """Write bytes with no check at all (tests use it to corrupt an object)."""
        await _s3(
            self._thread(self.client.put_object, self.bucket, key, io.BytesIO(data), len(data))
        )


async def _put(
    feed: queue.Queue[bytes | None],
    item: bytes | None,
    upload: asyncio.Future[object],
    space: asyncio.Event,
) -> None:
    """Hand one chunk to the worker thread; while the queue is full, wait (on the loop,
    holding no thread) until the reader takes a chunk."""
    while True:
        space.clear()  # before trying, so a take between the try and the wait is not lost
        try:
            feed.put_nowait(item)
            return
        except queue.Full:
            pass
        if upload.done():
            await _s3(upload)  # raises the upload's own error
            raise BlobUnavailable("S3 upload ended before its data did")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(space.wait(), 1.0)


async def _s3(aw: Awaitable[T]) -> T:
    """Await an S3 call, turning its failures into our two error kinds."""
    try:
        return await aw
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            raise BlobMissing(exc.message or "no such object") from exc
        raise BlobUnavailable(f"S3 refused the request: {exc.code}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise BlobUnavailable(f"S3 does not answer ({type(exc).__name__})") from exc

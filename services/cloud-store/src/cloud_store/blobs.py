"""Ciphertext blobs in S3: the only module that imports minio.

The minio client is synchronous; every call runs in a worker thread. Retries are off
so that a stopped S3 shows up as an error at once instead of a hung request.
"""

from __future__ import annotations

import asyncio
import io

import urllib3
from minio import Minio

from cloud_store.settings import S3Settings


class BlobStore:
    """One bucket of ciphertext objects."""

    def __init__(self, settings: S3Settings) -> None:
        self.bucket = settings.bucket
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=30.0),
            retries=urllib3.Retry(total=0, connect=0, read=0, redirect=0),
            maxsize=16,
        )
        self.client = Minio(
            settings.endpoint,
            access_key=settings.access_key,
            secret_key=settings.secret_key.get_secret_value(),
            secure=settings.secure,
            region=settings.region,
            http_client=http,
        )

    async def ensure_bucket(self) -> None:
        def make() -> None:
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

        await asyncio.to_thread(make)

    async def ping(self, timeout: float) -> None:
        """Raise unless S3 answers for our bucket within ``timeout`` seconds."""
        exists = await asyncio.wait_for(
            asyncio.to_thread(self.client.bucket_exists, self.bucket), timeout
        )
        if not exists:
            raise LookupError(f"bucket {self.bucket} is missing")

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(
            self.client.put_object, self.bucket, key, io.BytesIO(data), len(data)
        )

    async def get_bytes(self, key: str) -> bytes:
        def read() -> bytes:
            resp = self.client.get_object(self.bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return await asyncio.to_thread(read)

    async def remove(self, key: str) -> None:
        await asyncio.to_thread(self.client.remove_object, self.bucket, key)

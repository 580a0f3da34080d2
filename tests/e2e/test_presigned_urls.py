"""Presigned S3 URLs on the real S3 server: S3 checks the SHA-256, a URL opens one
object for one method, expires, and cloud-store issues them to services only."""

from __future__ import annotations

import hashlib
import os
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.identity.tokens import TokenSigner
from tests.support.identity import bearer, service_url
from tests.support.sharing import key_of, sharing_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_put_is_checked_by_s3_get_is_scoped_and_expires(stack: Any) -> None:
    token = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service(
        "cloud-store", ttl_s=120
    )
    data = os.urandom(200_000)
    digest = hashlib.sha256(data).hexdigest()
    key = f"presign-{uuid4().hex[:8]}/r/labs/v1"
    async with httpx.AsyncClient(base_url=service_url(stack, "cloud-store"), timeout=10) as cs:

        async def presign(*objects: dict[str, Any], expires_s: int = 60) -> list[Any]:
            r = await cs.post(
                "/v1/presign",
                json={"objects": list(objects), "expires_s": expires_s},
                headers=bearer(token),
            )
            assert r.status_code == 200, r.text
            return list(r.json()["urls"])

        async def verify(sha256: str, k: str = key) -> dict[str, Any]:
            body = {"objects": [{"key": k, "sha256": sha256, "size": len(data)}]}
            r = await cs.post("/v1/blobs/verify", json=body, headers=bearer(token))
            assert r.status_code == 200, r.text
            return dict(r.json())

        (put,) = await presign({"key": key, "method": "PUT", "sha256": digest, "size": len(data)})
        async with httpx.AsyncClient(timeout=10) as s3:
            # S3 itself refuses other bytes, and a PUT without the signed checksum
            tampered = await s3.put(put["url"], content=data[:-1] + b"!", headers=put["headers"])
            assert tampered.status_code == 400, tampered.text
            assert (await s3.put(put["url"], content=data)).status_code == 403
            assert (await verify(digest))["missing"] == [key]
            stored = await s3.put(put["url"], content=data, headers=put["headers"])
            assert stored.status_code == 200, stored.text
            assert await verify(digest) == {"stored": [key], "missing": [], "mismatched": []}
            assert (await verify("0" * 64))["mismatched"] == [key]

            (get,) = await presign({"key": key, "method": "GET"}, expires_s=2)
            got = await s3.get(get["url"])
            assert got.status_code == 200 and got.content == data
            # one object only: the same signature names no other key
            other = get["url"].replace("/labs/v1?", "/labs/v2?")
            assert (await s3.get(other)).status_code == 403

            async def expired() -> bool:
                return (await s3.get(get["url"])).status_code == 403

            assert await eventually(expired, timeout=15, interval=0.5)

        # a PUT URL needs the digest; a user's token gets none
        r = await cs.post(
            "/v1/presign", json={"objects": [{"key": key, "method": "PUT"}]}, headers=bearer(token)
        )
        assert r.status_code == 422
        world = await sharing_world(stack)
        r = await cs.post(
            "/v1/presign",
            json={"objects": [{"key": key, "method": "GET"}]},
            headers=bearer(world.doctor.token),
        )
        assert r.status_code == 403

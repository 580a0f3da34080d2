"""cloud-store's routes in-process: its real app over memory blobs and tags (no servers).

Only services may call it; each route's happy path, a refused caller and a bad body.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from cloud_store.deps import CloudState
from cloud_store.main import create_app
from cloud_store.memory import MemoryBlobs, MemoryTags
from cloud_store.settings import Settings
from phr.crypto.signing import SigningKey
from phr.identity.tokens import TokenSigner
from phr.service.state import AppState
from tests.support.asgi import asgi_client, auth_header, test_authenticator, user_token

KGC = SigningKey.generate()
OWNER_API = SigningKey.generate()
TAG = "ab" * 32


@dataclass
class Cloud:
    http: httpx.AsyncClient
    blobs: MemoryBlobs
    tags: MemoryTags
    service: dict[str, str]  # owner-api's service token


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    own = SigningKey.generate()
    auth = test_authenticator("cloud-store", KGC, own, {"owner-api": OWNER_API})
    settings = Settings(max_blob_bytes=10_000, verify_before_send_bytes=1_000)
    blobs, tags = MemoryBlobs(chunk=256), MemoryTags()
    state = AppState(CloudState(blobs, tags, settings), authenticator=auth)
    async with asgi_client(create_app(settings), state) as http:
        token = TokenSigner(OWNER_API, "owner-api").mint_service("cloud-store")
        yield Cloud(http, blobs, tags, auth_header(token))


def put_headers(data: bytes, **kw: str) -> dict[str, str]:
    return {
        "x-content-sha256": hashlib.sha256(data).hexdigest(),
        "x-content-length": str(len(data)),
    } | kw


@pytest.mark.parametrize("size", [10, 5_000])  # verified before sending / streamed
async def test_a_blob_is_stored_read_and_removed(cloud: Cloud, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    key = "p1/r1/labs/v1"
    r = await cloud.http.put(
        f"/v1/blobs/{key}", content=data, headers=put_headers(data) | cloud.service
    )
    assert r.status_code == 201 and r.json()["size"] == size
    r = await cloud.http.get(f"/v1/blobs/{key}", headers=cloud.service)
    assert r.status_code == 200 and r.content == data
    assert r.headers["x-content-sha256"] == hashlib.sha256(data).hexdigest()
    assert (await cloud.http.delete(f"/v1/blobs/{key}", headers=cloud.service)).status_code == 204
    r = await cloud.http.get(f"/v1/blobs/{key}", headers=cloud.service)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_users_and_anonymous_callers_are_refused(cloud: Cloud) -> None:
    data = b"ciphertext"
    patient = auth_header(user_token(KGC, "u_p", "patient"))
    for headers in ({}, patient, auth_header("not-a-token")):
        r = await cloud.http.put("/v1/blobs/k", content=data, headers=put_headers(data) | headers)
        assert r.status_code in (401, 403), r.text
        r = await cloud.http.post("/v1/search", json={"trapdoors": [TAG]}, headers=headers)
        assert r.status_code in (401, 403)
    assert cloud.blobs.objects == {}


async def test_a_blob_unlike_its_headers_is_refused_and_not_kept(cloud: Cloud) -> None:
    data = b"ciphertext"
    wrong = put_headers(data, **{"x-content-sha256": "0" * 64}) | cloud.service
    r = await cloud.http.put("/v1/blobs/k1", content=data, headers=wrong)
    assert r.status_code == 422 and r.json()["type"].endswith("/blob-integrity")
    too_big = put_headers(data, **{"x-content-length": "20000"}) | cloud.service
    assert (await cloud.http.put("/v1/blobs/k2", content=data, headers=too_big)).status_code == 413
    bad_header = put_headers(data, **{"x-content-sha256": "nothex"}) | cloud.service
    assert (
        await cloud.http.put("/v1/blobs/k3", content=data, headers=bad_header)
    ).status_code == 422
    bad_key = await cloud.http.put(
        "/v1/blobs/a/%2E%2E/b", content=data, headers=put_headers(data) | cloud.service
    )
    assert bad_key.status_code in (404, 422)
    assert cloud.blobs.objects == {} and cloud.tags.blobs == {}


async def test_tags_are_set_searched_and_dropped(cloud: Cloud) -> None:
    h = cloud.service
    assert (
        await cloud.http.put("/v1/index/p1/r1/labs", json={"tags": [TAG]}, headers=h)
    ).status_code == 204
    r = await cloud.http.put("/v1/index/p1/r2", json={"segments": {"notes": [TAG]}}, headers=h)
    assert r.status_code == 204
    r = await cloud.http.post(
        "/v1/search", json={"trapdoors": [TAG], "patient_ids": ["p1"]}, headers=h
    )
    assert r.status_code == 200
    assert [(m["record_id"], m["segment"]) for m in r.json()["matches"]] == [
        ("r1", "labs"),
        ("r2", "notes"),
    ]
    assert (await cloud.http.delete("/v1/index/p1/r1", headers=h)).status_code == 204
    r = await cloud.http.post("/v1/search", json={"trapdoors": [TAG]}, headers=h)
    assert [m["record_id"] for m in r.json()["matches"]] == ["r2"]


async def test_bad_tag_bodies_are_refused_and_change_nothing(cloud: Cloud) -> None:
    h = cloud.service
    for path, body in (
        ("/v1/index/p1/r1/labs", {"tags": ["NOT-HEX"]}),
        ("/v1/index/p1/r1/labs", {"tags": [TAG], "extra": 1}),
        ("/v1/index/p1/r1", {"segments": {"bad segment!": [TAG]}}),
    ):
        r = await cloud.http.put(path, json=body, headers=h)
        assert r.status_code == 422 and "errors" in r.json(), r.text
    r = await cloud.http.post("/v1/search", json={"trapdoors": []}, headers=h)
    assert r.status_code == 422
    assert cloud.tags.tags == {}

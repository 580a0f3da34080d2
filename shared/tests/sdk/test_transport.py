"""phr.sdk.transport: httpx's API over aiohttp, against a real HTTP peer (``http_peer``)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp.test_utils import TestServer

from phr.sdk.base import BearerClient
from phr.sdk.transport import AiohttpTransport, new_client

from ..conftest import BIG


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(timeout_s=5.0) as client:
        yield client


def url(peer: TestServer, path: str) -> str:
    return str(peer.make_url(path))


async def test_json_headers_and_params_round_trip(http_peer: TestServer, http: httpx.AsyncClient):
    resp = await http.post(
        url(http_peer, "/echo"),
        json={"a": ["é", 1]},
        headers={"Authorization": "Bearer t"},
        params={"q": "x y"},
    )
    assert resp.status_code == 200 and resp.reason_phrase == "OK"
    assert resp.headers["x-twice"] == "a"
    assert resp.json() == {
        "json": {"a": ["é", 1]},
        "auth": "Bearer t",
        "q": "x y",
        "method": "POST",
    }


async def test_error_status_and_problem_body(http_peer: TestServer, http: httpx.AsyncClient):
    resp = await http.get(url(http_peer, "/problem"))
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["detail"] == "nope"


async def test_streamed_upload_and_download(http_peer: TestServer, http: httpx.AsyncClient):
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(BIG), 100_000):
            yield BIG[i : i + 100_000]

    resp = await http.put(url(http_peer, "/put"), content=chunks())
    assert resp.status_code == 201
    assert (resp.json()["size"], resp.json()["sha256"]) == (
        len(BIG),
        hashlib.sha256(BIG).hexdigest(),
    )
    async with http.stream("GET", url(http_peer, "/big")) as streamed:
        got = b"".join([c async for c in streamed.aiter_bytes()])
    assert got == BIG
    half = await http.send(http.build_request("GET", url(http_peer, "/big")), stream=True)
    first = await anext(half.aiter_raw())
    await half.aclose()  # left half-read: closed, and the pool still serves
    assert first and (await http.get(url(http_peer, "/big"))).content == BIG


async def test_failures_are_httpx_transport_errors(http_peer: TestServer, http: httpx.AsyncClient):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        await http.get(f"http://127.0.0.1:{port}/")
    with pytest.raises(httpx.ReadTimeout):
        await http.get(url(http_peer, "/slow"), timeout=httpx.Timeout(5.0, read=0.2))


async def test_sdk_clients_use_it_unless_given_a_client() -> None:
    own = BearerClient("t")
    assert isinstance(own._http._transport, AiohttpTransport)
    await own.aclose()
    async with httpx.AsyncClient() as mine:
        given = BearerClient("t", http=mine)
        assert given._http is mine
        await given.aclose()
        assert not mine.is_closed  # the caller's client is the caller's to close

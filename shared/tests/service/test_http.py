"""phr.service.http against a real HTTP peer on a local socket (``http_peer``)."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from phr.service.http import ServiceHttp, TransportFailed

from ..conftest import BIG


@pytest.fixture
async def http() -> AsyncIterator[ServiceHttp]:
    client = ServiceHttp(timeout_s=5.0)
    yield client
    await client.aclose()


async def test_json_round_trip_with_headers_and_params(http_peer: TestServer, http: ServiceHttp):
    resp = await http.request(
        "POST",
        str(http_peer.make_url("/echo")),
        json={"a": [1, "é", None]},
        headers={"Authorization": "Bearer t"},
        params={"q": "x y"},
    )
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json() == {
        "json": {"a": [1, "é", None]},
        "auth": "Bearer t",
        "q": "x y",
        "method": "POST",
    }


async def test_an_error_status_is_an_answer_not_an_exception(
    http_peer: TestServer, http: ServiceHttp
):
    resp = await http.request("GET", str(http_peer.make_url("/problem")))
    assert resp.status == 404
    assert resp.json()["detail"] == "nope"


async def test_refused_connection_is_a_transport_failure(http: ServiceHttp):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransportFailed) as err:
        await http.request("GET", f"http://127.0.0.1:{port}/x")
    assert not err.value.timeout
    assert "Connect" in err.value.reason


async def test_a_slow_peer_times_out(http_peer: TestServer, http: ServiceHttp):
    with pytest.raises(TransportFailed) as err:
        await http.request("GET", str(http_peer.make_url("/slow")), timeout_s=0.2)
    assert err.value.timeout
    assert err.value.reason == "timed out"


async def test_stream_read_to_the_end_reuses_the_connection(
    http_peer: TestServer, http: ServiceHttp
):
    for _ in range(3):
        resp = await http.stream("GET", str(http_peer.make_url("/big")))
        assert resp.status == 200
        data = b"".join([c async for c in resp.chunks()])
        assert hashlib.sha256(data).hexdigest() == resp.headers["X-Content-SHA256"]
        await resp.aclose()  # after a whole read: harmless
    connector = http._client().connector
    assert connector is not None
    # one keep-alive connection served all three downloads
    assert sum(len(v) for v in connector._conns.values()) == 1


async def test_stream_left_half_read_closes_its_connection(
    http_peer: TestServer, http: ServiceHttp
):
    resp = await http.stream("GET", str(http_peer.make_url("/big")))
    chunks = resp.chunks()
    first = await anext(chunks)
    assert first
    await chunks.aclose()
    connector = http._client().connector
    assert connector is not None
    assert sum(len(v) for v in connector._conns.values()) == 0
    again = await http.request("GET", str(http_peer.make_url("/big")))  # the pool still works
    assert again.content == BIG


async def test_upload_streams_chunks_with_the_given_length(
    http_peer: TestServer, http: ServiceHttp
):
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(BIG), 100_000):
            yield BIG[i : i + 100_000]

    resp = await http.upload(
        "PUT",
        str(http_peer.make_url("/put")),
        chunks(),
        headers={"Content-Length": str(len(BIG))},
    )
    body = resp.json()
    assert body["size"] == len(BIG)
    assert body["sha256"] == hashlib.sha256(BIG).hexdigest()
    assert body["content_length"] == str(len(BIG))
    assert body["chunked"] is None

"""Fixtures for every shared test: a real HTTP peer on a local socket."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

#: what the peer's /big serves (1 MiB)
BIG = bytes(range(256)) * 4096


def _peer_app() -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "json": await request.json(),
                "auth": request.headers.get("authorization"),
                "q": request.query.get("q"),
                "method": request.method,
            },
            headers={"X-Twice": "a"},
        )

    async def problem(_: web.Request) -> web.Response:
        return web.json_response(
            {"detail": "nope"}, status=404, content_type="application/problem+json"
        )

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=BIG, headers={"X-Content-SHA256": hashlib.sha256(BIG).hexdigest()})

    async def put(request: web.Request) -> web.Response:
        data = await request.read()
        return web.json_response(
            {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_length": request.headers.get("content-length"),
                "chunked": request.headers.get("transfer-encoding"),
            },
            status=201,
        )

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/problem", problem)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_put("/put", put)
    return app


@pytest.fixture
async def http_peer() -> AsyncIterator[TestServer]:
    """POST /echo (JSON, auth, ?q back), GET /problem (404 problem+json), GET /slow (2 s),
    GET /big (1 MiB, X-Content-SHA256), PUT /put (201: size, SHA-256, framing headers)."""
    srv = TestServer(_peer_app(), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()

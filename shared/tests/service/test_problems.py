"""problem+json rendering, request ids and readiness, on a bare app (no servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from phr.service.health import router as health_router
from phr.service.middleware import RequestContextMiddleware
from phr.service.problems import NotFound, Unavailable, install_problem_handlers
from phr.service.state import AppState


class Body(BaseModel):
    count: int


def build(checks: dict[str, Any]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield AppState(service=None, checks=checks, readiness_timeout_s=0.2).lifespan_state()

    app = FastAPI(lifespan=lifespan)
    app.add_middleware(RequestContextMiddleware)
    install_problem_handlers(app)
    app.include_router(health_router)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no record r1", record_id="r1")

    @app.get("/down")
    async def down() -> None:
        raise Unavailable("S3 does not answer")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret internals")

    @app.post("/body")
    async def body(b: Body) -> Body:
        return b

    return app


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    return body


async def call(checks: dict[str, Any], method: str, path: str, **kw: Any) -> httpx.Response:
    from asgi_lifespan import LifespanManager

    app = build(checks)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path, **kw)


async def ok(_: float) -> None:
    return None


async def broken(_: float) -> None:
    raise ConnectionError("refused")


async def test_domain_error_is_problem_json_with_extensions() -> None:
    body = problem(await call({}, "GET", "/missing"), 404)
    assert body["detail"] == "no record r1"
    assert body["record_id"] == "r1"
    assert body["instance"] == "/missing"
    assert body["correlation_id"]


async def test_unknown_route_is_problem_json() -> None:
    problem(await call({}, "GET", "/nope"), 404)


async def test_validation_error_names_the_field() -> None:
    body = problem(await call({}, "POST", "/body", json={"count": "many"}), 422)
    assert "count" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "count"]


async def test_crash_is_500_without_internals() -> None:
    resp = await call({}, "GET", "/crash")
    body = problem(resp, 500)
    assert "secret internals" not in resp.text
    assert "correlation id" in body["detail"]


async def test_correlation_id_is_echoed_and_a_bad_one_replaced() -> None:
    resp = await call({}, "GET", "/healthz", headers={"X-Correlation-ID": "flow-42"})
    assert resp.headers["x-correlation-id"] == "flow-42"
    assert resp.headers["x-request-id"]
    resp = await call({}, "GET", "/healthz", headers={"X-Correlation-ID": "bad id\nx"})
    assert resp.headers["x-correlation-id"] != "bad id\nx"


async def test_readyz_names_what_is_down() -> None:
    resp = await call({"mongo": ok, "kafka": broken}, "GET", "/readyz")
    body = problem(resp, 503)
    assert body["detail"] == "down: kafka"
    assert body["checks"]["mongo"] == "ok"
    resp = await call({"mongo": ok, "kafka": ok}, "GET", "/readyz")
    assert resp.status_code == 200 and resp.json()["status"] == "ready"


async def test_readyz_times_out_a_hanging_check() -> None:
    import asyncio

    async def hang(_: float) -> None:
        await asyncio.sleep(30)

    body = problem(await call({"s3": hang}, "GET", "/readyz"), 503)
    assert body["detail"] == "down: s3"

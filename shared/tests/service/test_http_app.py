"""What every route gets from the app factory: body limits, media types, ids, a true spec.

Built with :func:`phr.service.app.http_app`, the very wiring of every service, on a
bare lifespan (no servers).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from phr.service.app import http_app
from phr.service.auth import CurrentPrincipal
from phr.service.limits import DEFAULT_MAX_BODY_BYTES, MIB
from phr.service.problems import PROBLEM_JSON, PROBLEM_SCHEMA_REF

router = APIRouter(prefix="/v1")


class Body(BaseModel):
    count: int


@router.post("/things", summary="Make a thing")
async def make_thing(body: Body, request: Request) -> dict[str, Any]:
    """Makes a thing of ``count``."""
    return {"count": body.count, "cid": request.state.correlation_id}


@router.post("/secured", summary="Needs a token")
async def secured(body: Body, caller: CurrentPrincipal) -> Body:
    return body


@router.put("/big", summary="A streamed body", max_body_size=4 * MIB)
async def big(request: Request) -> dict[str, int]:
    n = 0
    async for chunk in request.stream():
        n += len(chunk)
    return {"bytes": n}


@router.get("/crash", summary="Fails")
async def crash() -> None:
    raise RuntimeError("secret internals")


def build() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {}

    return http_app(name="t", version="1", description="", lifespan=lifespan, routers=[router])


async def call(method: str, path: str, **kw: Any) -> httpx.Response:
    app = build()
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.request(method, path, **kw)


def problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == PROBLEM_JSON
    assert resp.headers["x-request-id"] and resp.headers["x-correlation-id"]
    body: dict[str, Any] = resp.json()
    assert body["status"] == status
    return body


async def test_malformed_json_is_400() -> None:
    resp = await call(
        "POST", "/v1/things", content=b'{"count": ', headers={"content-type": "application/json"}
    )
    assert problem(resp, 400)["title"] == "Malformed JSON"


async def test_another_media_type_is_415_and_json_flavours_pass() -> None:
    resp = await call(
        "POST", "/v1/things", content=b"count=1", headers={"content-type": "text/plain"}
    )
    assert problem(resp, 415)["detail"].endswith("not text/plain")
    resp = await call(
        "POST",
        "/v1/things",
        content=b'{"count": 1}',
        headers={"content-type": "application/merge-patch+json; charset=utf-8"},
    )
    assert resp.status_code == 200
    resp = await call("POST", "/v1/things", content=b'{"count": 1}')  # no media type at all
    problem(resp, 415)


async def test_a_declared_body_over_the_limit_is_413_before_auth() -> None:
    size = DEFAULT_MAX_BODY_BYTES + 1
    # no token: the 413 comes before the 401 (the body is never read)
    resp = await call(
        "POST", "/v1/secured", content=b"x" * size, headers={"content-type": "application/json"}
    )
    body = problem(resp, 413)
    assert body["max_body_bytes"] == DEFAULT_MAX_BODY_BYTES
    resp = await call("POST", "/v1/secured", json={"count": 1})
    problem(resp, 401)


async def test_a_chunked_body_stops_at_the_limit() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * MIB

    resp = await call("PUT", "/v1/big", content=chunks())  # no Content-Length
    problem(resp, 413)
    resp = await call("PUT", "/v1/big", content=b"x" * (3 * MIB))  # under this route's 4 MiB
    assert resp.json() == {"bytes": 3 * MIB}


@pytest.mark.parametrize("cid", ["hosp-req-42", "urn:uuid:7d4e/a+b=c@h", "x" * 128])
async def test_an_opaque_correlation_id_flows_as_it_came(cid: str) -> None:
    resp = await call("POST", "/v1/things", json={"count": 2}, headers={"X-Correlation-ID": cid})
    assert resp.status_code == 200
    assert resp.headers["x-correlation-id"] == cid
    assert resp.json()["cid"] == cid


@pytest.mark.parametrize("cid", ["x" * 129, "two words", "semi;colon", "é"])
async def test_a_malformed_correlation_id_is_replaced(cid: str) -> None:
    resp = await call(
        "POST", "/v1/things", json={"count": 2}, headers={"X-Correlation-ID": cid.encode()}
    )
    assert resp.status_code == 200
    assert resp.headers["x-correlation-id"] != cid
    assert resp.json()["cid"] == resp.headers["x-correlation-id"]


async def test_a_crash_is_a_500_problem_with_the_ids() -> None:
    resp = await call("GET", "/v1/crash", headers={"X-Correlation-ID": "flow-9"})
    body = problem(resp, 500)
    assert "secret internals" not in resp.text
    assert body["correlation_id"] == "flow-9" == resp.headers["x-correlation-id"]


def test_the_spec_documents_what_the_plumbing_sends() -> None:
    spec = build().openapi()
    ops = {(p, m): op for p, item in spec["paths"].items() for m, op in item.items()}
    make = ops[("/v1/things", "post")]
    assert make["operationId"] == "make_thing"
    assert make["description"].startswith("Makes a thing")
    assert {"400", "413", "415", "422", "500"} <= set(make["responses"])
    assert "401" not in make["responses"]
    assert {"401", "403"} <= set(ops[("/v1/secured", "post")]["responses"])
    assert "4 MiB" in ops[("/v1/big", "put")]["description"]
    assert "404" not in make["responses"]
    for op in ops.values():
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {
                    PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}
                }
    assert "HTTPValidationError" not in json.dumps(spec)
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "instance",
    ]
    assert spec["servers"]


async def test_api_docs_load_nothing_from_another_host() -> None:
    for page in ("/docs", "/redoc"):
        resp = await call("GET", page)
        assert resp.status_code == 200
        assert "http://" not in resp.text and "https://" not in resp.text.replace(
            "https://phr-exchange.org", ""
        ), page
        for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/redoc.standalone.js"):
            if asset.rsplit("/", 1)[1].split(".")[0] in resp.text:
                assert (await call("GET", asset)).status_code == 200

"""Trace context across a service: the caller's traceparent is the parent of the request's
span, and what the handler sends on (HTTP headers, event envelopes) continues the trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from phr.service.app import http_app
from phr.service.tracing import current_traceparent, trace_ids, with_traceparent

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
router = APIRouter(prefix="/v1")


@router.get("/hop/{n}", summary="Passes the trace on")
async def hop(n: int) -> dict[str, Any]:
    return {"headers": with_traceparent({"X": "1"}), "event": current_traceparent(), **trace_ids()}


def build() -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {}

    return http_app(name="t", version="1", description="", lifespan=lifespan, routers=[router])


async def test_the_request_span_continues_the_callers_trace_and_is_passed_on() -> None:
    EXPORTER.clear()
    async with LifespanManager(build()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            resp = await c.get("/v1/hop/3", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    body = resp.json()
    assert body["trace_id"] == TRACE
    sent = body["headers"]["traceparent"]
    assert sent.startswith(f"00-{TRACE}-") and sent != f"00-{TRACE}-{PARENT}-01"
    assert body["event"] == sent
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert span.name == "GET /v1/hop/{n}"
    assert span.parent is not None and format(span.parent.span_id, "016x") == PARENT
    # what the handler sends on is a span of this request's (FastAPI's endpoint span)
    spans = {format(s.context.span_id, "016x"): s for s in EXPORTER.get_finished_spans()}
    assert body["span_id"] == sent.split("-")[2] and body["span_id"] in spans
    assert all(format(s.context.trace_id, "032x") == TRACE for s in spans.values())
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200


async def test_without_a_callers_trace_a_new_one_starts() -> None:
    EXPORTER.clear()
    async with LifespanManager(build()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            body = (await c.get("/v1/hop/1")).json()
    assert len(body["trace_id"]) == 32 and body["trace_id"] != TRACE

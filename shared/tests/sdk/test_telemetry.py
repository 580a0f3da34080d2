"""The SDK's trace context: each request carries the current span's W3C traceparent, and
nothing is invented or exported when tracing is off (no span, no endpoint)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider

from phr.sdk.transport import new_client
from phr.telemetry import configure_tracing, inject_traceparent


async def test_a_request_carries_the_current_spans_traceparent() -> None:
    tracer = TracerProvider().get_tracer("test")
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    with tracer.start_as_current_span("phr fetch") as span:
        await inject_traceparent(request)
    ctx = span.get_span_context()
    # version 00, the span's trace and span ids, then its flags (sampled)
    version, trace_id, span_id, flags = request.headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
    assert int(flags, 16) & 1


async def test_without_a_span_no_traceparent_is_sent() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:9/x")
    await inject_traceparent(request)
    assert "traceparent" not in request.headers


async def test_the_sdk_client_injects_it_on_every_request() -> None:
    async with new_client() as http:
        assert inject_traceparent in http.event_hooks["request"]


def test_no_endpoint_means_no_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert configure_tracing("phr-cli") is False

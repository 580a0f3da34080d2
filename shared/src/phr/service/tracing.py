"""OpenTelemetry traces across HTTP and Kafka, exported over OTLP when configured.

Every request a service answers is a SERVER span (FastAPI's own OpenTelemetry
instrumentation, named by route template) whose parent is the caller's W3C
``traceparent`` header; every call it makes carries its own ``traceparent``
(:func:`with_traceparent`), and every event it emits carries one in the envelope
(CloudEvents distributed-tracing extension), from which the consumer's span continues.
So one ``phr fetch`` is one trace through user-api, the SRS nodes and cloud-store.

Export is off unless an endpoint is configured (``<SERVICE>_OTLP_ENDPOINT`` or the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT``); off, the API's no-op tracer still passes an
incoming trace context on, so a caller's trace id reaches every process and log line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from phr.telemetry import configure_tracing as configure_tracing  # its home since the SDK

TRACER = trace.get_tracer("phr.service")


def with_traceparent(headers: Mapping[str, str] | None) -> dict[str, str]:
    """``headers`` plus the current span's ``traceparent`` (unchanged if there is none)."""
    out = dict(headers or {})
    propagate.inject(out)
    return out


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, for an event's envelope."""
    return with_traceparent(None).get("traceparent")


def trace_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span, for a log line (empty if none)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


def _parent(traceparent: str | None) -> Context:
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


@contextmanager
def incoming_trace(traceparent: str | None) -> Iterator[None]:
    """The caller's trace context for a request without a span of its own (export off:
    FastAPI then makes none), so what the request sends on continues the caller's trace."""
    if not traceparent or trace.get_current_span().get_span_context().is_valid:
        yield
        return
    token = otel_context.attach(_parent(traceparent))
    try:
        yield
    finally:
        otel_context.detach(token)


@contextmanager
def consumer_span(event_type: str, topic: str, traceparent: str | None) -> Iterator[Span]:
    """The span of one event applied, continuing the producer's trace."""
    with TRACER.start_as_current_span(
        f"process {event_type}",
        context=_parent(traceparent),
        kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "kafka", "messaging.destination.name": topic},
    ) as span:
        yield span


def header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text: str = value.decode("latin-1")
            return text
    return None

"""OpenTelemetry set-up shared by the services, the SDK and the CLI.

:func:`configure_tracing` exports a process's spans over OTLP/HTTP when an endpoint is
configured (the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``, or a service's own setting)
and does nothing otherwise: with no provider set, OpenTelemetry's API is a no-op and
no ``traceparent`` is invented. :func:`inject_traceparent` is the SDK's request hook: each
outgoing request carries the W3C ``traceparent`` of the current span, so one ``phr
fetch`` is one trace through user-api, the SRS nodes and cloud-store.
"""

from __future__ import annotations

import os

import httpx
from opentelemetry import propagate, trace


def configure_tracing(service: str, endpoint: str | None = None, *, batch: bool = True) -> bool:
    """Export this process's spans to ``endpoint`` (OTLP over HTTP); False if none is set.

    ``batch=False`` exports each span as it ends (a short-lived command: nothing waits
    in a queue when the process exits).
    """
    endpoint = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True  # set up already in this process (a second command in one process)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    trace.set_tracer_provider(provider)
    return True


def flush_tracing() -> None:
    """Export what is still queued (a no-op when tracing is off)."""
    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if callable(flush):
        flush()


async def inject_traceparent(request: httpx.Request) -> None:
    """httpx request hook: the current span's ``traceparent`` (none without a span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for name, value in carrier.items():
        request.headers.setdefault(name, value)

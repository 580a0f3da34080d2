"""Prometheus metrics of a service process (prometheus-client), served at ``/metrics``.

One process is one service, so the process's default registry is the service's. Names
follow the Prometheus conventions (base units, ``_total`` counters, ``_seconds``):

- ``phr_http_requests_total`` and ``phr_http_request_duration_seconds``: per method,
  route template (never the raw path) and status;
- ``phr_events_published_total`` and ``phr_events_publish_failed_total``: per event type;
- ``phr_consumer_lag``: records not yet consumed, per topic and consumer group;
- ``phr_srs_decisions_total`` (SRS nodes), ``phr_ledger_height`` and
  ``phr_ledger_events_ingested_total`` (the ingest rate is its ``rate()``),
  ``phr_outbox_depth`` (events written but not yet on Kafka).
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import Scope

HTTP_REQUESTS: Final = Counter(
    "phr_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_DURATION: Final = Histogram(
    "phr_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED: Final = Counter(
    "phr_events_published", "Events the broker acknowledged", ["type"]
)
EVENTS_FAILED: Final = Counter(
    "phr_events_publish_failed", "Events the broker did not take", ["type"]
)
CONSUMER_LAG: Final = Gauge(
    "phr_consumer_lag", "Records on the topic not yet consumed", ["topic", "group"]
)
SRS_DECISIONS: Final = Counter(
    "phr_srs_decisions", "Segment decisions of this SRS node", ["decision", "reason"]
)
LEDGER_HEIGHT: Final = Gauge("phr_ledger_height", "Height of the last sealed block")
LEDGER_INGESTED: Final = Counter(
    "phr_ledger_events_ingested", "Events the ledger accepted into its chain"
)
OUTBOX_DEPTH: Final = Gauge("phr_outbox_depth", "Events written but not yet published")


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request under its route template (``unmatched`` if none)."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or "unmatched"
    labels = (scope.get("method", ""), template, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={
        200: {
            "content": {
                CONTENT_TYPE_LATEST: {
                    "schema": {"type": "string"},
                    "example": "# HELP phr_http_requests_total HTTP requests answered\n"
                    "# TYPE phr_http_requests_total counter\n"
                    'phr_http_requests_total{method="GET",route="/v1/key",status="200"} 3.0\n',
                }
            }
        }
    },
)
async def metrics() -> Response:
    """The Prometheus text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

"""Request and correlation ids: bound to every log line and echoed in response headers.

A caller's own ids are welcome (``X-Correlation-ID: hosp-req-42``): any correlation id
the event envelope takes (:data:`phr.events.envelope.CORRELATION_ID_RE`: bounded length,
a plain charset) flows as it came into logs, events and answers; a request id must match
:data:`phr.api.ids.OPAQUE_ID_PATTERN`. Anything else is replaced by a fresh one. A crash
is answered here, so its 500 carries the ids like every other answer.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phr.api.ids import OPAQUE_ID_PATTERN
from phr.events.envelope import CORRELATION_ID_RE
from phr.service.problems import internal_error
from phr.service.tracing import header, incoming_trace, trace_ids

REQUEST_ID = "x-request-id"
CORRELATION_ID = "x-correlation-id"
_SAFE_IDS = {REQUEST_ID: re.compile(OPAQUE_ID_PATTERN), CORRELATION_ID: CORRELATION_ID_RE}
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
log = structlog.get_logger("phr.http")

#: told of each finished request: (scope, status, seconds)
RequestObserver = Callable[[Scope, int, float], None]


def incoming_id(scope: Scope, name: str) -> str | None:
    """The header ``name`` of the request if it is a well-formed id, else None."""
    for key, value in scope.get("headers", []):
        if key.decode("latin-1").lower() == name:
            text = value.decode("latin-1")
            # An id from outside goes into logs and events: accept only a plain token.
            return text if _SAFE_IDS[name].fullmatch(text) else None
    return None


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming bodies pass through untouched."""

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = incoming_id(scope, REQUEST_ID) or uuid.uuid4().hex
        correlation_id = incoming_id(scope, CORRELATION_ID) or str(uuid.uuid4())
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        started = time.perf_counter()
        status = 500
        response_started = False
        ids = [
            (REQUEST_ID.encode(), request_id.encode()),
            (CORRELATION_ID.encode(), correlation_id.encode()),
        ]

        async def send_with_ids(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *ids]
            await send(message)

        path = scope.get("path", "")
        with (
            incoming_trace(header(scope, b"traceparent")),
            structlog.contextvars.bound_contextvars(
                request_id=request_id, correlation_id=correlation_id, **trace_ids()
            ),
        ):
            try:
                await self.app(scope, receive, send_with_ids)
            except Exception as exc:
                if response_started:
                    raise  # too late for a status: the server drops the connection
                await internal_error(scope, exc)(scope, receive, send_with_ids)
            finally:
                elapsed = time.perf_counter() - started
                if self.observe is not None:
                    self.observe(scope, status, elapsed)
                if path not in _QUIET:
                    log.info(
                        "request.completed",
                        method=scope.get("method"),
                        path=path,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )

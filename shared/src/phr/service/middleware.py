"""Request and correlation ids: bound to every log line and echoed in response headers."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phr.api.ids import OPAQUE_ID_PATTERN

REQUEST_ID = "x-request-id"
CORRELATION_ID = "x-correlation-id"
_SAFE_ID = re.compile(OPAQUE_ID_PATTERN)
log = structlog.get_logger("phr.http")


def _incoming(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key.decode("latin-1").lower() == name:
            text = value.decode("latin-1")
            # An id from outside goes into logs: accept only a plain token.
            return text if _SAFE_ID.match(text) else None
    return None


class RequestContextMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so streaming bodies pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope, REQUEST_ID) or uuid.uuid4().hex
        correlation_id = _incoming(scope, CORRELATION_ID) or str(uuid.uuid4())
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID.encode(), request_id.encode()))
                headers.append((CORRELATION_ID.encode(), correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(
            request_id=request_id, correlation_id=correlation_id
        ):
            try:
                await self.app(scope, receive, send_with_ids)
            finally:
                path = scope.get("path", "")
                if path not in ("/healthz", "/readyz"):
                    log.info(
                        "request.completed",
                        method=scope.get("method"),
                        path=path,
                        status=status,
                        duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    )

"""Body limits and media types, checked before any route code runs (auth included).

Every route has a body limit: FastAPI's ``max_body_size`` of the route, or the
service's default (:data:`DEFAULT_MAX_BODY_BYTES`). This guard answers a declared
``Content-Length`` over the limit with 413 before a byte is read or a token checked,
stops a chunked body (no length) at its limit as it is read, and answers a body sent to
a JSON route in another media type with 415. All are RFC 9457 problems, like every
other error. (FastAPI's app-wide ``max_body_size`` is not used: its middleware sits
outside ours and would answer in plain text.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message as MimeMessage
from typing import Final

from fastapi import params
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phr.service.problems import problem_json

MIB: Final = 1024 * 1024
#: a JSON body's limit unless its route says otherwise (``max_body_size=`` on the route)
DEFAULT_MAX_BODY_BYTES: Final = 1 * MIB


@dataclass(frozen=True, slots=True)
class RouteLimit:
    methods: frozenset[str]
    path: re.Pattern[str]
    max_body_bytes: int
    #: the route parses its body as JSON (a pydantic body parameter)
    json_body: bool


def route_limits(routes: Iterable[BaseRoute], default: int) -> list[RouteLimit]:
    """The limit and media type rule of each API route (paths as the app serves them)."""
    found = []
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        body = route.body_field
        json_body = body is not None and not isinstance(body.field_info, params.Form)
        limit = route.max_body_size if route.max_body_size is not None else default
        found.append(RouteLimit(frozenset(route.methods or ()), route.path_regex, limit, json_body))
    return found


def is_json(content_type: str | None) -> bool:
    """``application/json`` or any ``application/*+json`` (parameters allowed)."""
    if not content_type:
        return False
    message = MimeMessage()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class RequestGuardMiddleware:
    """413 for a declared body over its route's limit, 415 for a non-JSON body to a JSON
    route: before routing, dependencies (auth) and reading."""

    def __init__(self, app: ASGIApp, *, limits: list[RouteLimit], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    def _route(self, scope: Scope) -> RouteLimit | None:
        path, method = scope.get("path", ""), scope.get("method", "")
        for limit in self.limits:
            if method in limit.methods and limit.path.match(path):
                return limit
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        if declared is None and not chunked:
            await self.app(scope, receive, send)  # no body at all
            return
        route = self._route(scope)
        limit = route.max_body_bytes if route is not None else self.default
        try:
            length = int(declared) if declared is not None else None
        except ValueError:
            length = None
        if length is not None and length > limit:
            # Not a byte is read into memory: the server discards the rest as it comes
            # (keep-alive), so the client, still sending, gets to read this answer.
            response = problem_json(
                scope,
                status=413,
                title="Payload too large",
                slug="payload-too-large",
                detail=f"a body of {length} bytes is over this route's limit of {limit}",
                max_body_bytes=limit,
            )
            await response(scope, receive, send)
            return
        has_body = chunked or (length is not None and length > 0)
        if route is not None and route.json_body and has_body:
            content_type = headers.get("content-type")
            if not is_json(content_type):
                response = problem_json(
                    scope,
                    status=415,
                    title="Unsupported media type",
                    slug="unsupported-media-type",
                    detail=f"this route takes application/json, not {content_type or 'none'}",
                    headers={"Accept": "application/json"},
                )
                await response(scope, receive, send)
                return
        if length is None:
            receive = _counted(receive, limit)
        await self.app(scope, receive, send)


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops a body without a declared length at ``limit`` bytes."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                # Starlette's HTTPException: FastAPI re-raises it from a body read (any
                # other error there becomes a 400), and the problem handlers render it.
                raise HTTPException(413, f"the body is over this route's limit of {limit} bytes")
        return message

    return counted

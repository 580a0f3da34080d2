"""RFC 9457 problem details: one renderer for every service.

DomainError
├── BadRequest (400)          client sent something we cannot use
├── Unauthorized (401)        no or invalid credentials
├── Forbidden (403)           authenticated, but not allowed
├── NotFound (404)
├── Conflict (409)
├── PayloadTooLarge (413)
├── TooManyRequests (429)     rate limited; carries Retry-After
└── Unavailable (503)         a dependency (Kafka, Mongo, S3, SRS) does not answer
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://phr-exchange.org/problems/"

log = structlog.get_logger("phr.problems")


class DomainError(Exception):
    """Base of every error a service raises on purpose; rendered as problem+json."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions

    def response_headers(self) -> dict[str, str]:
        """Extra HTTP headers of the problem response."""
        return {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}


class BadRequest(DomainError):
    status, title, slug = 400, "Bad request", "bad-request"


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(DomainError):
    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extensions)
        self.retry_after_s = max(1, retry_after_s)

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "unavailable"


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    slug: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    correlation_id = getattr(request.state, "correlation_id", None)
    if correlation_id:
        body["correlation_id"] = correlation_id
    body.update(extensions)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = exc.response_headers() or None
    if exc.status >= 500:
        log.warning("request.failed", status=exc.status, detail=exc.detail)
    return problem_response(
        request,
        status=exc.status,
        title=exc.title,
        slug=exc.slug,
        detail=exc.detail,
        headers=headers,
        **exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    where = ".".join(str(p) for p in first["loc"])
    return problem_response(
        request,
        status=422,
        title="Invalid request",
        slug="validation",
        detail=f"{where}: {first['msg']}" if where else str(first["msg"]),
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}
    return problem_response(
        request,
        status=exc.status_code,
        title=titles.get(exc.status_code, "HTTP error"),
        slug={404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http"),
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Internals stay in the log (with the correlation id), never in the response.
    log.exception("request.crashed", error_type=type(exc).__name__)
    return problem_response(
        request,
        status=500,
        title="Internal error",
        slug="internal",
        detail="the server failed to handle this request; quote the correlation id",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

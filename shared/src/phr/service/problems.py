"""RFC 9457 problem details: one renderer for every service.

DomainError
├── BadRequest (400)          client sent something we cannot use
├── Unauthorized (401)        no or invalid credentials
├── Forbidden (403)           authenticated, but not allowed
├── NotFound (404)
├── Conflict (409)
├── PayloadTooLarge (413)
├── UnsupportedMediaType (415)
├── TooManyRequests (429)     rate limited; carries Retry-After
└── Unavailable (503)         a dependency (Kafka, Mongo, S3, SRS) does not answer
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://phr-exchange.org/problems/"

log = structlog.get_logger("phr.problems")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is sent."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_BASE + "not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "no record r_1",
                    "instance": "/v1/patients/u_1/records/r_1",
                    "correlation_id": "hosp-req-42",
                }
            ]
        },
    )

    type: str = Field(description="URI naming the kind of problem")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request")
    instance: str = Field(description="The request path")
    correlation_id: str | None = Field(
        default=None, description="The request's correlation id (quote it when asking why)"
    )
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Each invalid part of the request (validation problems)"
    )


#: what each error status means on every route that may send it
STATUS_TEXT: dict[int, str] = {
    400: "Malformed request (e.g. a body that is not JSON)",
    401: "No, an invalid, an expired or a revoked bearer token",
    403: "The caller may not do this",
    404: "No such resource",
    409: "Conflicts with the current state",
    410: "Gone (expired or deleted)",
    413: "Body over this route's size limit",
    415: "Body not in the media type this route takes",
    422: "The request does not match its schema",
    429: "Too many requests; retry after Retry-After seconds",
    500: "The server failed; quote the correlation id",
    502: "An upstream service answered wrongly",
    503: "A dependency (Kafka, MongoDB, S3, the SRS nodes) does not answer",
}
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


def problem_responses(
    *codes: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route: each code as an RFC 9457 problem (one schema),
    described by ``descriptions`` or by what the code means on every route."""
    return {
        code: {
            "description": (descriptions or {}).get(code) or STATUS_TEXT.get(code, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
        for code in codes
    }


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


class UnsupportedMediaType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class TooManyRequests(DomainError):
    status, title, slug = 429, "Too many requests", "too-many-requests"

    def __init__(self, detail: str, *, retry_after_s: int, **extensions: Any) -> None:
        super().__init__(detail, retry_after_s=retry_after_s, **extensions)
        self.retry_after_s = max(1, retry_after_s)

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class Unavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "unavailable"


def problem_json(
    scope: Mapping[str, Any],
    *,
    status: int,
    title: str,
    slug: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """A problem response for the request of ``scope`` (also usable from ASGI middleware)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": scope.get("path", ""),
    }
    correlation_id = scope.get("state", {}).get("correlation_id")
    if correlation_id:
        body["correlation_id"] = correlation_id
    body.update(extensions)
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def problem_response(request: Request, **kw: Any) -> JSONResponse:
    return problem_json(request.scope, **kw)


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
    if first.get("type") == "json_invalid":
        return problem_response(
            request,
            status=400,
            title="Malformed JSON",
            slug="malformed-json",
            detail=f"the body is not JSON: {exc.errors()[0].get('ctx', {}).get('error', '')}",
        )
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
    titles = {
        404: "Not found",
        405: "Method not allowed",
        401: "Unauthorized",
        413: "Payload too large",
    }
    slugs = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
    return problem_response(
        request,
        status=exc.status_code,
        title=titles.get(exc.status_code, "HTTP error"),
        slug=slugs.get(exc.status_code, "http"),
        detail=str(exc.detail),
        headers=dict(exc.headers) if exc.headers else None,
    )


def internal_error(scope: Mapping[str, Any], exc: BaseException) -> JSONResponse:
    """The 500 of a crashed request; internals stay in the log, never in the response."""
    log.error("request.crashed", error_type=type(exc).__name__, exc_info=exc)
    return problem_json(
        scope,
        status=500,
        title="Internal error",
        slug="internal",
        detail="the server failed to handle this request; quote the correlation id",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Reached only without RequestContextMiddleware (which answers crashes itself, so
    # that the 500 carries the request's ids).
    return internal_error(request.scope, exc)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

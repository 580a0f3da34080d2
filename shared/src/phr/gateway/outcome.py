"""FHIR on the wire: ``application/fhir+json`` responses, ``_format``, OperationOutcome errors.

Every error under ``/fhir`` is an R4 OperationOutcome (never problem+json), with the
issue code of the R4 ``issue-type`` value set that fits (``security`` for a missing or
insufficient scope, ``invalid`` for a body R4 refuses, ``not-found``, ...). The token
endpoint answers OAuth 2.0 errors instead (RFC 6749 section 5.2), as SMART requires.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from phr.client.verifier import AccessIntegrityError
from phr.sdk.errors import ApiError, Unreachable

FHIR_JSON: Final = "application/fhir+json"
#: ``_format`` values a client may send for JSON (R4 http.html#mime-type)
JSON_FORMATS: Final = frozenset({"json", "application/json", FHIR_JSON, "application/fhir+json"})

log = structlog.get_logger("phr.gateway")


class FhirError(Exception):
    """An error rendered as an OperationOutcome with ``status`` and one issue."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        issues: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = list(expression)
        self.headers = dict(headers or {})
        self.issues = issues

    def outcome(self) -> dict[str, Any]:
        if self.issues is not None:
            return operation_outcome(self.issues)
        return operation_outcome(
            [issue("error", self.code, self.diagnostics, expression=self.expression)]
        )


def issue(
    severity: str,
    code: str,
    diagnostics: str,
    *,
    expression: Iterable[str] = (),
    details: str | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if details is not None:
        out["details"] = {"text": details}
    expr = list(expression)
    if expr:
        out["expression"] = expr
    return out


def operation_outcome(issues: list[dict[str, Any]], *, rid: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "OperationOutcome"}
    if rid is not None:
        out["id"] = rid
    out["issue"] = issues
    return out


class FhirResponse(Response):
    """A FHIR resource as ``application/fhir+json`` (R4 mime type, ``fhirVersion=4.0``)."""

    media_type = f"{FHIR_JSON}; fhirVersion=4.0"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def fhir_response(
    content: Mapping[str, Any],
    status_code: int = 200,
    *,
    headers: Mapping[str, str] | None = None,
) -> FhirResponse:
    return FhirResponse(dict(content), status_code=status_code, headers=dict(headers or {}))


def check_format(request: Request) -> None:
    """``_format`` (or ``Accept``) asking for anything but JSON: 406 (we speak JSON only)."""
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt.split(";")[0].strip() not in JSON_FORMATS:
        raise FhirError(406, "not-supported", f"_format {fmt!r}: this server speaks JSON only")
    accept = request.headers.get("accept")
    if accept and fmt is None:
        kinds = {a.split(";")[0].strip() for a in accept.split(",")}
        if kinds and not kinds & (JSON_FORMATS | {"*/*", "application/*"}):
            raise FhirError(
                406, "not-supported", f"Accept {accept!r}: this server speaks JSON only"
            )


def _is_fhir(request: Request) -> bool:
    return request.url.path.startswith("/fhir")


def install_outcome_handlers(app: FastAPI) -> None:
    """Errors under /fhir as OperationOutcomes; elsewhere plain JSON."""

    @app.exception_handler(FhirError)
    async def _fhir_error(request: Request, exc: FhirError) -> Response:
        return fhir_response(exc.outcome(), exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported", 401: "login", 403: "forbidden"}
        if _is_fhir(request):
            return fhir_response(
                FhirError(
                    exc.status_code, code.get(exc.status_code, "processing"), str(exc.detail)
                ).outcome(),
                exc.status_code,
                headers=exc.headers,  # Allow on a 405
            )
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        issues = [
            issue(
                "error",
                "invalid",
                str(e.get("msg", "invalid")),
                expression=[".".join(str(p) for p in e.get("loc", ()))],
            )
            for e in exc.errors()
        ]
        return fhir_response(operation_outcome(issues), 400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("gateway.failed", path=request.url.path, error=type(exc).__name__)
        return fhir_response(
            FhirError(500, "exception", "the gateway failed; see its log").outcome(), 500
        )


@contextmanager
def sdk_errors(what: str) -> Iterator[None]:
    """The SDK's failures as OperationOutcomes (the services' own words kept short)."""
    try:
        yield
    except ApiError as exc:
        status = exc.status if exc.status in (400, 403, 404, 409, 410, 422) else 502
        if exc.status in (503, 504):
            status = 503
        if exc.status == 401:
            status = 502  # our own identity's login failed: the gateway's problem
        code = {403: "forbidden", 404: "not-found", 410: "deleted", 503: "transient"}
        raise FhirError(status, code.get(status, "processing"), f"{what}: {exc}") from None
    except Unreachable as exc:
        raise FhirError(503, "transient", f"{what}: {exc}") from None
    except AccessIntegrityError as exc:
        raise FhirError(
            502, "security", f"{what}: what the services sent does not verify ({exc})"
        ) from None

"""The OpenAPI document of a service, telling the truth about what it sends.

FastAPI writes what the routes declare; this completes it with what the service's
plumbing adds to every route: the RFC 9457 ``Problem`` schema on every error (422
included, which FastAPI would document as its own ``HTTPValidationError``), 400 for a
body that is not JSON, 413 over the route's body limit, 415 for another media type,
401 and 403 where a bearer token is needed, 500, the correlation id header, and a
description of each operation (its docstring, then its limits and auth).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from phr.events.envelope import CORRELATION_ID_MAX, CORRELATION_ID_RE
from phr.service.limits import DEFAULT_MAX_BODY_BYTES, MIB
from phr.service.problems import (
    PROBLEM_JSON,
    PROBLEM_SCHEMA_REF,
    STATUS_TEXT,
    Problem,
    problem_responses,
)

_METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options")
_CORRELATION_PARAM: Final = {
    "name": "X-Correlation-ID",
    "in": "header",
    "required": False,
    "description": f"Your own id for this flow (up to {CORRELATION_ID_MAX} of A-Z a-z 0-9 "
    ". _ : / @ + = -); it is echoed, logged and carried by the events this request causes. "
    "Another value is replaced by a fresh UUID.",
    "schema": {"type": "string", "pattern": f"^{CORRELATION_ID_RE.pattern}$"},
}
_ID_HEADERS: Final = {
    "X-Request-ID": {"description": "This request's id", "schema": {"type": "string"}},
    "X-Correlation-ID": {"description": "The flow's correlation id", "schema": {"type": "string"}},
}


#: a response (or request body) of ciphertext bytes: segment data, AES-GCM chunks
CIPHERTEXT: Final[dict[str, Any]] = {
    "description": "The ciphertext's bytes (check them against X-Content-SHA256)",
    "content": {
        "application/octet-stream": {
            "schema": {"type": "string", "format": "binary"},
            "example": "UEhSLVNFRzEBAAAAAAEAAAAAAAAARyM...",
        }
    },
}


def operation_id(route: APIRoute) -> str:
    """A route's operationId: its handler's name (unique per service, checked by a test)."""
    return route.name


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n} bytes"


def _limits_by_operation(routes: Sequence[Any]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for route in routes:
        if isinstance(route, APIRoute):
            limit = route.max_body_size
            for method in route.methods or ():
                found[(route.path_format, method.lower())] = (
                    limit if limit is not None else DEFAULT_MAX_BODY_BYTES
                )
    return found


def _problem_everywhere(responses: dict[str, Any]) -> None:
    """Each error response's problem+json (or FastAPI's 422) gets the Problem schema."""
    for code, response in responses.items():
        if not code.isdigit() or int(code) < 400:
            continue
        content = response.setdefault("content", {})
        content.pop("application/json", None)  # FastAPI's HTTPValidationError for 422
        content[PROBLEM_JSON] = {"schema": {"$ref": PROBLEM_SCHEMA_REF}}
        if not response.get("description") or response["description"] == "Validation Error":
            response["description"] = STATUS_TEXT.get(int(code), "Error")


def _complete_operation(op: dict[str, Any], limit: int) -> None:
    responses: dict[str, Any] = op.setdefault("responses", {})
    body = op.get("requestBody", {}).get("content", {})
    takes_json = "application/json" in body
    secured = bool(op.get("security"))
    codes = [413, 500]
    if takes_json:
        codes += [400, 415, 422]
    if op.get("parameters") or body:
        codes.append(422)
    if secured:
        codes += [401, 403]
    if any(p.get("in") == "path" for p in op.get("parameters", [])):
        codes.append(404)  # an id that names nothing (schemathesis found it unlisted)
    for code, response in problem_responses(*codes).items():
        responses.setdefault(str(code), response)
    _problem_everywhere(responses)
    for response in responses.values():
        response.setdefault("headers", {}).update(_ID_HEADERS)
    params = op.setdefault("parameters", [])
    if not any(p.get("name") == "X-Correlation-ID" for p in params):
        params.append(_CORRELATION_PARAM)
    notes = [
        "Needs `Authorization: Bearer <access token>`." if secured else "No token needed.",
        f"Request body: at most {_size(limit)}"
        + (", `application/json`." if takes_json else ".")
        + " A larger one is refused with 413 before it is read.",
        "Errors are RFC 9457 `application/problem+json`.",
    ]
    text = op.get("description") or op.get("summary", "")
    op["description"] = (text.strip() + "\n\n" + " ".join(notes)).strip()


def _model_examples(routes: Sequence[Any]) -> dict[str, list[Any]]:
    """Each model's ``examples`` (by schema name) as pydantic writes them, nulls included."""
    found: dict[str, list[Any]] = {}
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        extra = [r.get("model") for r in route.responses.values() if isinstance(r, dict)]
        bodies = [p.field_info.annotation for p in route.dependant.body_params]
        for kind in (route.response_model, *extra, *bodies):
            if kind is None:
                continue
            for mode in ("validation", "serialization"):
                doc = TypeAdapter(kind).json_schema(mode=mode)
                defs = dict(doc.pop("$defs", {}))
                if isinstance(kind, type) and issubclass(kind, BaseModel):
                    defs[kind.__name__] = doc
                for name, model_schema in defs.items():
                    if "examples" in model_schema:
                        found[name] = model_schema["examples"]
    return found


def _restore_examples(schemas: dict[str, Any], routes: Sequence[Any]) -> None:
    """FastAPI drops every ``null`` of the document (``exclude_none``), those inside
    examples too, which leaves an example without the nullable fields its schema
    requires: put each model's own examples back."""
    examples = _model_examples(routes)
    for name, model_schema in schemas.items():
        own = examples.get(name.removesuffix("-Input").removesuffix("-Output"))
        if own is not None and "examples" in model_schema:
            model_schema["examples"] = own


def complete_openapi(schema: dict[str, Any], routes: Sequence[Any]) -> dict[str, Any]:
    """Fill in what the service's plumbing adds to every operation (see module doc)."""
    limits = _limits_by_operation(routes)
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                _complete_operation(item[method], limits.get((path, method), 0))
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _restore_examples(schemas, routes)
    return schema


def install_openapi(
    app: FastAPI, *, routes: Sequence[APIRoute], servers: list[dict[str, str]]
) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=servers,
                license_info=app.license_info,
                openapi_version=app.openapi_version,
            )
            app.openapi_schema = complete_openapi(schema, routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

"""The requests that try an operation's documented statuses: one set per operation.

Each probe is the keyword arguments of ``httpx.Client.request`` (after the method):

- ``happy``: a token, the caller's parameter values, the spec's example body;
- ``unauthenticated``: the same without a token;
- ``unknown-id``: every path parameter an id that names nothing;
- ``bad-parameter``: every path parameter, or else a required query parameter, outside
  its pattern or type;
- ``bad-body``: a JSON body of the wrong shape (JSON routes);
- ``malformed``: a body that is not JSON (JSON routes);
- ``wrong-media-type``: a ``text/plain`` body;
- ``too-large``: a body one byte over the route's documented limit (up to 16 MiB).
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import quote

from tests.support.identity import bearer
from tests.support.openapi import Operation, json_body_example

#: the bytes the tests store as a blob (cloud-store's raw body)
BLOB: Final = b"PHR-SEG1 conformance ciphertext"
UNKNOWN_ID: Final = "zz-unknown-0"
#: bodies larger than this are not sent (the blob route's limit is gigabytes)
MAX_PROBE_BYTES: Final = 16 * 1024 * 1024
_PARAM: Final = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def python_name(name: str) -> str:
    """A parameter's name as openapi-python-client spells it (``X-Content-SHA256`` ->
    ``x_content_sha256``)."""
    return re.sub(r"\W", "_", name).lower()


def _path(op: Operation, values: dict[str, Any], override: str | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        text = override if override is not None else str(values[match[1]])
        return quote(text, safe="/") if match[1] == "key" else quote(text, safe="")

    return _PARAM.sub(value, op.path)


def _query(op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: values[p["name"]] for p in op.params("query", required_only=True)}


def _headers(op: Operation, values: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: str(values[p["name"]]) for p in op.params("header", required_only=True)}


def _body(spec: dict[str, Any], op: Operation) -> dict[str, Any]:
    if op.takes_json:
        return {"json": json_body_example(spec, op)}
    if "application/octet-stream" in op.body_media:
        return {"content": BLOB, "headers": {"content-type": "application/octet-stream"}}
    return {}


def _merge(request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**request, "headers": {**request.get("headers", {}), **headers}}


def probes(
    spec: dict[str, Any], op: Operation, token: str, values: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """(name, request) of each probe that applies to ``op`` (see module doc)."""
    auth = {**bearer(token), **_headers(op, values)}
    query = _query(op, values)
    body = _body(spec, op)
    url = _path(op, values)
    happy = _merge({"url": url, "params": query, **body}, auth)
    found = [
        ("happy", happy),
        ("unauthenticated", _merge({"url": url, "params": query, **body}, _headers(op, values))),
    ]
    if op.params("path"):
        found.append(("unknown-id", {**happy, "url": _path(op, values, UNKNOWN_ID)}))
        found.append(("bad-parameter", {**happy, "url": _path(op, values, "-not an id")}))
    elif query:
        bad = {name: "-not an id" if isinstance(v, str) else "NaN" for name, v in query.items()}
        found.append(("bad-parameter", {**happy, "params": bad}))
    raw = {"url": url, "params": query, "headers": auth}
    if op.takes_json:
        found.append(("bad-body", {**raw, "json": {"unexpected": [1, 2, 3]}}))
        found.append(
            (
                "malformed",
                _merge({**raw, "content": b'{"a": '}, {"content-type": "application/json"}),
            )
        )
    found.append(
        ("wrong-media-type", _merge({**raw, "content": b"a=1"}, {"content-type": "text/plain"}))
    )
    limit = op.body_limit
    if limit <= MAX_PROBE_BYTES:
        media = "application/json" if op.takes_json else "application/octet-stream"
        found.append(
            ("too-large", _merge({**raw, "content": b" " * (limit + 1)}, {"content-type": media}))
        )
    return found

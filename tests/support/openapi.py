"""Reading a service's OpenAPI document the way its tools do: operations, examples, limits.

``examples_of`` finds an example where OpenAPI tools look: the media type's ``example``
or ``examples``, else the schema's own ``examples`` (behind its ``$ref``), else, for an
array, its items'. ``validate`` checks a value against a schema of the document (JSON
Schema 2020-12, the dialect of OpenAPI 3.1), its ``#/components/...`` refs resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import httpx
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

METHODS: Final = ("get", "put", "post", "delete", "patch")
#: what phr.service.openapi writes of each operation's body limit
_LIMIT = re.compile(r"Request body: at most (\d+) (MiB|bytes)")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    doc: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.doc["operationId"])

    @property
    def documented(self) -> set[str]:
        """The statuses the operation lists (``default`` covers any other)."""
        return set(self.doc["responses"])

    def lists(self, status: int) -> bool:
        return str(status) in self.documented or "default" in self.documented

    def params(self, where: str, *, required_only: bool = False) -> list[dict[str, Any]]:
        return [
            p
            for p in self.doc.get("parameters", [])
            if p["in"] == where and (p.get("required") or not required_only)
        ]

    @property
    def body_media(self) -> dict[str, Any]:
        content: dict[str, Any] = self.doc.get("requestBody", {}).get("content", {})
        return content

    @property
    def takes_json(self) -> bool:
        return "application/json" in self.body_media

    @property
    def body_limit(self) -> int:
        found = _LIMIT.search(self.doc.get("description", ""))
        assert found, f"{self.id}: no body limit in its description"
        return int(found[1]) * (1024 * 1024 if found[2] == "MiB" else 1)


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation, in the document's order (a route's PUT before its GET, as declared)."""
    return [
        Operation(method, path, doc)
        for path, item in spec["paths"].items()
        for method, doc in item.items()
        if method in METHODS
    ]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def examples_of(spec: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of a media type object, where OpenAPI tools look (module doc)."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    return schema_examples(spec, media.get("schema", {}))


def schema_examples(spec: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    schema = resolve(spec, schema)
    if schema.get("examples"):
        return list(schema["examples"])
    if "example" in schema:
        return [schema["example"]]
    if schema.get("type") == "array" and "items" in schema:
        return [[item] for item in schema_examples(spec, schema["items"])[:1]]
    return []


def validate(spec: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    """``value`` against ``schema``; raises jsonschema's ValidationError."""
    root = {**schema, "components": spec.get("components", {})}
    Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(value)


def json_body_example(spec: dict[str, Any], op: Operation) -> Any:
    """The first example of the operation's JSON request body."""
    found = examples_of(spec, op.body_media["application/json"])
    assert found, f"{op.id}: no request example"
    return found[0]


def answer_mismatch(spec: dict[str, Any], op: Operation, response: httpx.Response) -> str | None:
    """Why a JSON answer is not valid by the schema ``op`` lists for its status and media
    type (None if it is, or if the answer is not JSON or its status lists no schema)."""
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        return None
    listed = op.doc["responses"].get(str(response.status_code)) or op.doc["responses"].get(
        "default", {}
    )
    schema = listed.get("content", {}).get(media_type, {}).get("schema")
    if schema is None:
        return f"{media_type} is not a media type listed for {response.status_code}"
    try:
        validate(spec, schema, response.json())
    except ValidationError as exc:
        return f"{exc.message} at {list(exc.absolute_path)}"
    return None

"""Every operation of every service's OpenAPI document has a description and examples
that are true to its own schemas.

Each service's real app is built in-process (``create_app()`` connects to nothing until
its lifespan runs) and its served document read. For every operation: a description; an
example of the request body if it takes one; an example of each success response that
has a body; and each example validates (JSON Schema 2020-12, the dialect of OpenAPI 3.1)
against the schema it illustrates, ``$ref``s resolved within the document. An example
is found where OpenAPI tools look: the media type's ``example`` or ``examples``, else
the schema's own ``examples`` (behind its ``$ref``), else, for an array, its items'
(tests/support/openapi.py).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from tests.support.openapi import examples_of, operations, validate

SERVICES = {
    "kgc": "kgc.main",
    "owner-api": "owner_api.main",
    "user-api": "user_api.main",
    "srs": "srs.main",
    "ledger": "ledger.main",
    "cloud-store": "cloud_store.main",
}


@cache
def spec_of(service: str) -> dict[str, Any]:
    app = importlib.import_module(SERVICES[service]).create_app()
    spec: dict[str, Any] = app.openapi()
    return spec


def bodies(op: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, media type, media object) of the request body and each success response."""
    found = [
        ("request", media_type, media)
        for media_type, media in op.get("requestBody", {}).get("content", {}).items()
    ]
    for code, response in op["responses"].items():
        if code.startswith("2"):
            found += [
                (code, media_type, media)
                for media_type, media in response.get("content", {}).items()
            ]
    return found


def case_ids() -> list[tuple[str, str, str]]:
    return [(s, op.method, op.path) for s in SERVICES for op in operations(spec_of(s))]


CASES = case_ids()


@pytest.mark.parametrize(("service", "method", "path"), CASES, ids=[" ".join(c) for c in CASES])
def test_each_operation_is_described_and_exemplified_truly(
    service: str, method: str, path: str
) -> None:
    spec = spec_of(service)
    op = spec["paths"][path][method]
    assert op.get("description", "").strip(), "no description"
    successes = [c for c in op["responses"] if c.startswith("2")]
    assert successes, "no success response documented"
    if "requestBody" in op:
        assert op["requestBody"].get("content"), "a request body without a media type"
    for code in successes:
        if code != "204":  # No Content is the only success without a body
            assert op["responses"][code].get("content"), f"{code}: no media type"
    for where, media_type, media in bodies(op):
        found = examples_of(spec, media)
        assert found, f"{where} {media_type}: no example"
        for example in found:
            try:
                validate(spec, media.get("schema", {}), example)
            except ValidationError as exc:
                pytest.fail(f"{where} {media_type}: example {example!r} invalid: {exc.message}")


def test_the_examples_are_checked_so_a_wrong_one_fails() -> None:
    """The checker itself: a wrong example of a real schema is refused."""
    spec = spec_of("kgc")
    media = spec["paths"]["/v1/orgs"]["post"]["requestBody"]["content"]["application/json"]
    (good,) = examples_of(spec, media)
    validate(spec, media["schema"], good)
    for bad in ({**good, "kind": "bakery"}, {"name": good["name"]}, [good]):
        with pytest.raises(ValidationError):
            validate(spec, media["schema"], bad)
    nested = spec["paths"]["/v1/users"]["post"]["responses"]["201"]["content"]["application/json"]
    example = examples_of(spec, nested)[0]
    wrong = {**example, "credential": {**example["credential"], "signer": 7}}
    with pytest.raises(ValidationError):
        validate(spec, nested["schema"], wrong)

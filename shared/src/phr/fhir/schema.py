"""FHIR R4 structure checked with HL7's R4 JSON Schema, compiled once (``jsonschema-rs``).

The schema (``data/fhir.r4.schema.json.gz``, written by ``deploy/fhir_schema.py``) gives
every R4 resource type's elements, their types, the primitive types' patterns, the
required-binding code sets and ``additionalProperties: false``. Five things are added
here before it is compiled, so the checks are at least those of the ``fhir.resources``
models they replace:

- required primitive elements (``Observation.status``: present, or its ``_status``
  extension), and at most one of a choice element's types, exactly one where the
  element is required (``data/fhir.r4.rules.json``, taken from the models);
- a complex type is a JSON object (the R4 schema lets ``"meta": 12`` through);
- ``integer``, ``positiveInt`` and ``unsignedInt`` are JSON integers in range (the R4
  schema's pattern does not apply to a JSON number);
- the required bindings of ``phr.fhir.r4`` (codes such as ``MedicationRequest.intent``,
  and CodeableConcepts such as ``Condition.clinicalStatus`` whose codings of the bound
  system must carry a code of the set), where the R4 schema has no ``enum``;
- a resource inside another (``contained``, ``Bundle.entry.resource``) is an R4 resource
  type; :func:`check_resource` then checks it with its own definition.

The compiled validator is built on first use (about a second) and kept for the process.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

import jsonschema_rs

from phr.fhir.r4 import R4B_ONLY_TYPES, REQUIRED_CODES, REQUIRED_CONCEPTS
from phr.fhir.validate import FhirValidationError

_DATA: Final = resources.files("phr.fhir") / "data"


def _load(name: str) -> Any:
    raw = (_DATA / name).read_bytes()
    return json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)


def _rule(fields: list[str], prefix: str, must: bool) -> list[dict[str, Any]]:
    """At most one of a choice group's fields; one of them when the element is required."""
    out: list[dict[str, Any]] = [
        {"dependencies": {f: {"properties": {o: False for o in fields if o != f}} for f in fields}}
    ]
    if must:
        out.append(
            {
                "if": {"not": {"anyOf": [{"required": [f]} for f in fields]}},
                "then": {"required": [f"{prefix}[x]"]},
            }
        )
    return out


#: the R4 schema's patterns of its integer types, which a JSON number never meets
_INTEGERS: Final[dict[str, dict[str, Any]]] = {
    "^-?([0]|([1-9][0-9]*))$": {"type": "integer"},
    "^[1-9][0-9]*$": {"type": "integer", "minimum": 1},
    "^[0]|([1-9][0-9]*)$": {"type": "integer", "minimum": 0},
}


def _integers(node: Any) -> None:
    """``integer``, ``positiveInt`` and ``unsignedInt`` as JSON Schema integers, in place."""
    if isinstance(node, list):
        for item in node:
            _integers(item)
    elif isinstance(node, dict):
        if node.get("type") == "number" and node.get("pattern") in _INTEGERS:
            node.update(_INTEGERS[node.pop("pattern")])
        for value in node.values():
            _integers(value)


def _constrain(defs: dict[str, Any], rtype: str, path: str, extra: dict[str, Any]) -> None:
    """Add ``extra`` to the element at the dotted ``path`` of ``rtype`` (through lists)."""
    owner = defs[rtype]
    *steps, last = path.split(".")
    for step in steps:
        node = owner["properties"][step]
        ref = node.get("items", node)["$ref"]
        owner = defs[ref.rsplit("/", 1)[1]]
    prop = owner["properties"][last]
    if "items" in prop:
        prop["items"] = {"allOf": [prop["items"], extra]}
    else:
        owner["properties"][last] = {"allOf": [prop, extra]}


def _augment(schema: dict[str, Any], rules: Mapping[str, Any]) -> list[str]:
    """Add the element rules to ``schema`` in place; the R4 resource types."""
    defs: dict[str, Any] = schema["definitions"]
    types = sorted(schema["discriminator"]["mapping"])
    defs["ResourceList"] = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"enum": types}},
    }
    for definition in defs.values():
        if "properties" in definition:  # the R4 schema leaves a complex type's JSON type open
            definition["type"] = "object"
    for rtype, codes in REQUIRED_CODES.items():
        for path, allowed in codes:
            _constrain(defs, rtype, path, {"enum": sorted(allowed)})
    for rtype, concepts in REQUIRED_CONCEPTS.items():
        for path, system, allowed in concepts:
            coding = {
                "if": {"required": ["system"], "properties": {"system": {"enum": [system]}}},
                "then": {"required": ["code"], "properties": {"code": {"enum": sorted(allowed)}}},
            }
            _constrain(defs, rtype, path, {"properties": {"coding": {"items": coding}}})
    _integers(schema)
    for name, rule in rules.items():
        extra: list[dict[str, Any]] = [
            {"if": {"not": {"required": [f"_{f}"]}}, "then": {"required": [f]}}
            for f in rule.get("required", ())
        ]
        for prefix, fields in rule.get("choices", {}).items():
            extra += _rule(fields, prefix, prefix in rule.get("one_of", ()))
        if extra:
            defs[name]["allOf"] = extra
    return types


def r4_schema() -> dict[str, Any]:
    """The schema the checks run: HL7's R4 JSON Schema with the additions above, as one
    object whose only property names the resource type (``{"Observation": {...}}``), so a
    validator dispatches on the property name instead of trying each of ~145 definitions
    (oneOf). The web page validates with this very document (tests/web/make_tables.py)."""
    schema = _load("fhir.r4.schema.json.gz")
    types = _augment(schema, _load("fhir.r4.rules.json"))
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",  # if/then: draft-07
        "definitions": schema["definitions"],
        "type": "object",
        "properties": {t: {"$ref": f"#/definitions/{t}"} for t in types},
    }


@functools.cache
def _validator() -> tuple[Any, frozenset[str]]:
    root = r4_schema()
    return jsonschema_rs.validator_for(root), frozenset(root["properties"])


def r4_resource_types() -> frozenset[str]:
    """Every resource type of FHIR R4 (4.0.1)."""
    return _validator()[1]


def _error(exc: Any, entry: int | None, rtype: str, rid: Any) -> FhirValidationError:
    steps = list(exc.instance_path[1:])
    if steps[:1] == ["entry"] and len(steps) > 1:  # an entry's own elements (fullUrl, request)
        entry, steps = int(steps[1]), steps[2:]
    # an element path as FHIR names elements (activity.detail.status), list indices left out
    path = [p for p in steps if isinstance(p, str)]
    kind = exc.kind
    message = exc.message
    if isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
        path.append(kind.unexpected[0])
        message = "not an element of FHIR R4"
    elif isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
        path.append(kind.property)
        message = "required element missing"
    elif isinstance(kind, jsonschema_rs.ValidationErrorKind.FalseSchema):
        message = "a choice element takes one type only ([x])"
    return FhirValidationError(
        message,
        entry=entry,
        resource_type=rtype,
        resource_id=rid if isinstance(rid, str) else None,
        field=".".join(path) or None,
    )


def check_resource(resource: Any, *, entry: int | None = None) -> None:
    """Raise :class:`FhirValidationError` unless ``resource`` is a valid R4 resource."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirValidationError("resource without a resourceType", entry=entry)
    rtype, rid = resource["resourceType"], resource.get("id")
    validator, types = _validator()
    if rtype not in types:
        why = "resource type of FHIR R4B, not R4 (4.0.1)" if rtype in R4B_ONLY_TYPES else None
        raise FhirValidationError(
            why or "unknown FHIR R4 resource type",
            entry=entry,
            resource_type=rtype,
            resource_id=rid,
        )
    try:
        validator.validate({rtype: resource})
    except jsonschema_rs.ValidationError as exc:
        raise _error(exc, entry, rtype, rid) from None
    for inner in resource.get("contained") or ():
        try:
            check_resource(inner)
        except FhirValidationError as exc:
            where = "contained" + (f".{exc.field}" if exc.field else "")
            raise FhirValidationError(
                exc.detail, entry=entry, resource_type=rtype, resource_id=rid, field=where
            ) from None


def check_bundle(bundle: Mapping[str, Any]) -> None:
    """The Bundle and its entries (``fullUrl``, ``request`` ...) by the schema, then each
    entry's resource by its own definition."""
    entries = bundle.get("entry") or []
    shell = dict(bundle)
    if entries:
        shell["entry"] = [
            {k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
            for e in entries
        ]
    check_resource(shell)
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "resource" not in entry:
            raise FhirValidationError("entry without a resource", entry=i)
        check_resource(entry["resource"], entry=i)

"""FHIR R4 validation: every error names the entry, the resource (type and id) and the field.

:func:`validate_bundle` checks a Bundle with HL7's R4 JSON Schema compiled once
(``phr.fhir.schema``) and the rules R4 adds that no schema can say (``phr.fhir.r4``).
:func:`validate_resource` is the slower check of one resource by its ``fhir.resources``
R4B model, kept as the reference the schema's checks are compared with in the tests.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError


class FhirValidationError(ValueError):
    """Invalid FHIR: names the entry index, resource type, resource id and field path."""

    def __init__(
        self,
        message: str,
        *,
        entry: int | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if entry is not None:
            where.append(f"entry[{entry}]")
        if resource_type is not None:
            where.append(f"{resource_type}/{resource_id or '?'}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{' '.join(where)}: {message}" if where else message)
        self.detail = message
        self.entry = entry
        self.resource_type = resource_type
        self.resource_id = resource_id
        self.field = field


def validate_resource(resource: Any, *, entry: int | None = None) -> None:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        raise FhirValidationError("resource without a resourceType", entry=entry)
    rtype, rid = resource["resourceType"], resource.get("id")
    try:
        model = get_fhir_model_class(rtype)
    except (KeyError, ValueError, AttributeError, ImportError) as exc:
        raise FhirValidationError(
            "unknown FHIR R4 resource type", entry=entry, resource_type=rtype, resource_id=rid
        ) from exc
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or None
        raise FhirValidationError(
            first["msg"], entry=entry, resource_type=rtype, resource_id=rid, field=loc
        ) from None


def validate_bundle(bundle: Any) -> None:
    """Raise :class:`FhirValidationError` unless ``bundle`` is a valid R4 Bundle."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirValidationError("not a FHIR Bundle", resource_type="Bundle")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise FhirValidationError("entry is not a list", resource_type="Bundle", field="entry")
    from phr.fhir.r4 import check_bundle_r4  # r4 and schema raise this module's error
    from phr.fhir.schema import check_bundle

    # The R4 rules first (their errors are those the web page's vectors name), then the
    # schema, which holds the same required bindings and everything else.
    check_bundle_r4(bundle)
    check_bundle(bundle)

"""What a write Bundle holds: its parsing, its checks (whole or per entry), ids, patients.

A ``transaction`` is checked whole (any fault refuses it: 400 naming the entry); a
``batch`` is checked entry by entry (R4 http.html#transaction: "each entry is treated
as if it were an individual interaction"), so one bad entry fails alone. Batch entries
may not depend on each other: a reference to another entry's ``fullUrl`` is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any, Final

import orjson
from fastapi import Request

from phr.api.ids import ID_PATTERN
from phr.fhir.validate import FhirValidationError, validate_bundle
from phr.gateway.outcome import FhirError
from phr.gateway.references import references

#: a hospital's transaction: generous, but bounded before it is parsed
MAX_BUNDLE_BYTES: Final = 32 * 1024 * 1024
WRITE_METHODS: Final = frozenset({"POST", "PUT"})
JSON_BODIES: Final = frozenset({"application/fhir+json", "application/json"})
_ID = re.compile(ID_PATTERN)


def entry_error(index: int, message: str, field: str | None = None) -> FhirError:
    where = f"Bundle.entry[{index}]" + (f".{field}" if field else "")
    return FhirError(400, "invalid", f"entry {index}: {message}", expression=[where])


def validation_error(exc: FhirValidationError, index: int | None = None) -> FhirError:
    """``exc`` as a 400 naming the entry (``index`` when ``exc`` came from a one-entry copy)."""
    entry = exc.entry if index is None or exc.entry is None else index
    if entry is None:
        return FhirError(400, "invalid", str(exc), expression=["Bundle"])
    field = exc.field
    if exc.resource_type is not None and field and not field.startswith(("request", "fullUrl")):
        field = f"resource.{field}"
    message = str(exc) if index is None else str(exc).replace("entry[0]", f"entry[{entry}]", 1)
    return entry_error(entry, message, field)


async def read_bundle(request: Request) -> dict[str, Any]:
    """The body: a transaction or batch Bundle sent as FHIR JSON (415, 413, 400 otherwise)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in JSON_BODIES:
        raise FhirError(
            415, "not-supported", f"Content-Type {kind or 'none'!r}: send application/fhir+json"
        )
    raw = await request.body()
    if len(raw) > MAX_BUNDLE_BYTES:
        raise FhirError(413, "too-costly", f"a Bundle of at most {MAX_BUNDLE_BYTES} bytes")
    try:
        bundle = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FhirError(400, "structure", "the body is not JSON") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise FhirError(400, "invalid", "POST a Bundle to the base", expression=["Bundle"])
    if bundle.get("type") not in ("transaction", "batch"):
        raise FhirError(
            400, "invalid", "the Bundle's type must be transaction or batch", expression=["type"]
        )
    if not isinstance(bundle.get("entry", []), list):
        raise FhirError(400, "structure", "Bundle.entry is not a list", expression=["entry"])
    return bundle


def _check_method(index: int, entry: dict[str, Any]) -> None:
    method = entry["request"]["method"]
    if method not in WRITE_METHODS:
        raise entry_error(index, f"{method}: this gateway writes (POST, PUT) only", "request")


def check_transaction(bundle: dict[str, Any]) -> None:
    """The whole transaction valid R4 and writes only, else the first fault (400)."""
    try:
        validate_bundle(bundle)
    except FhirValidationError as exc:
        raise validation_error(exc) from None
    for i, entry in enumerate(bundle.get("entry", [])):
        _check_method(i, entry)


def check_batch(bundle: dict[str, Any]) -> dict[int, FhirError]:
    """The Bundle's own fields checked (400 for all), then each entry alone: its fault."""
    entries: list[Any] = bundle.get("entry", [])
    try:
        validate_bundle({k: v for k, v in bundle.items() if k != "entry"})
    except FhirValidationError as exc:
        raise validation_error(exc) from None
    full_urls = {e.get("fullUrl") for e in entries if isinstance(e, dict)} - {None}
    seen: set[str] = set()
    errors: dict[int, FhirError] = {}
    for i, entry in enumerate(entries):
        try:
            validate_bundle({"resourceType": "Bundle", "type": "batch", "entry": [entry]})
            _check_method(i, entry)
            full_url = entry.get("fullUrl")
            if full_url in seen:
                raise entry_error(i, f"fullUrl {full_url!r} appears twice in the Bundle", "fullUrl")
            if isinstance(full_url, str):
                seen.add(full_url)
            for ref in references(entry["resource"]):
                if ref["reference"] in full_urls:
                    raise entry_error(
                        i,
                        f"a batch entry may not reference another ({ref['reference']}): "
                        "send a transaction",
                        "resource",
                    )
        except FhirValidationError as exc:
            errors[i] = validation_error(exc, i)
        except FhirError as exc:
            errors[i] = exc
    return errors


def assign_ids(bundle: dict[str, Any], *, resolve: bool = True) -> list[str]:
    """Give each created resource an id (kept if it has one) and version 1, and if ``resolve``,
    rewrite ``fullUrl`` references to ``Type/id``; the entries' locations, in order."""
    by_full_url: dict[str, str] = {}
    locations = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = resource.get("id")
        if not isinstance(rid, str):
            rid = resource["id"] = str(uuid.uuid4())
        resource.setdefault("meta", {})["versionId"] = "1"  # records are immutable
        local = f"{resource['resourceType']}/{rid}"
        if isinstance(entry.get("fullUrl"), str):
            by_full_url[entry["fullUrl"]] = local
        locations.append(local)
    if resolve:
        for entry in bundle["entry"]:
            for ref in references(entry["resource"]):
                target = by_full_url.get(ref["reference"])
                if target is not None:
                    ref["reference"] = target
    return locations


def _patients(entries: list[dict[str, Any]]) -> set[str]:
    ids = {
        e["resource"]["id"]
        for e in entries
        if e["resource"]["resourceType"] == "Patient" and isinstance(e["resource"].get("id"), str)
    }
    if ids:
        return ids
    return {
        ref["reference"].removeprefix("Patient/")
        for e in entries
        for ref in references(e["resource"])
        if ref["reference"].startswith("Patient/")
    }


def _one(ids: set[str], what: str) -> str:
    if len(ids) != 1:
        named = ", ".join(sorted(ids)) or "none"
        raise FhirError(400, "invalid", f"{what} writes for exactly one patient (found: {named})")
    pid = str(ids.pop())
    if not _ID.match(pid):
        raise FhirError(400, "invalid", f"{pid!r} is not a patient id of PHR Exchange")
    return pid


def the_patient(bundle: dict[str, Any]) -> str:
    """The one patient a transaction is about: a Patient entry's id, else the
    ``Patient/ID`` its references name. None or several: 400."""
    return _one(_patients(bundle["entry"]), "a Bundle")


def entry_patient(index: int, entry: dict[str, Any]) -> str:
    """The one patient a batch entry is about (400 naming the entry otherwise)."""
    try:
        return _one(_patients([entry]), "an entry")
    except FhirError as exc:
        raise entry_error(index, exc.diagnostics, "resource") from None


def entries_of(bundle: dict[str, Any], indices: list[int]) -> Iterator[dict[str, Any]]:
    entries: list[dict[str, Any]] = bundle["entry"]
    return (entries[i] for i in indices)

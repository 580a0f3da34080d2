"""Writes: ``POST /fhir`` with a transaction or batch Bundle for one patient.

The gateway validates the Bundle (R4 models and :mod:`phr.fhir.r4`), assigns the ids a
server assigns on create and resolves the Bundle's ``urn:uuid`` references to them,
then encrypts it to the patient's published segment keys (their signature checked
against the patient's key in the KGC's directory) and uploads it as one record. The
organisation writes only where the patient authorised it as a contributor: owner-api
refuses the upload's first step otherwise, before anything is stored (403).

A batch is stored like a transaction, all or nothing: every entry is validated first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any, Final

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.client.record import ContributorKeys
from phr.crypto.signing import VerifyKey
from phr.fhir.validate import FhirValidationError, validate_bundle
from phr.gateway.outcome import FhirError, fhir_response, issue, operation_outcome, sdk_errors
from phr.gateway.reads import ID
from phr.gateway.state import Caller, require
from phr.sdk.records import new_record_id

router = APIRouter(prefix="/fhir", tags=["fhir"])

CAPABILITY: Final[list[dict[str, Any]]] = []
BATCH: Final = True
#: a hospital's transaction: generous, but bounded before it is parsed
MAX_BUNDLE_BYTES: Final = 32 * 1024 * 1024
WRITE_METHODS: Final = frozenset({"POST", "PUT"})


def _entry_error(index: int, message: str, field: str | None = None) -> FhirError:
    where = f"Bundle.entry[{index}]" + (f".{field}" if field else "")
    return FhirError(400, "invalid", f"entry {index}: {message}", expression=[where])


def _validation_error(exc: FhirValidationError) -> FhirError:
    if exc.entry is None:
        return FhirError(400, "invalid", str(exc), expression=["Bundle"])
    field = exc.field
    if exc.resource_type is not None and field and field not in ("request", "fullUrl"):
        field = f"resource.{field}"
    return _entry_error(exc.entry, str(exc), field)


async def read_bundle(request: Request) -> dict[str, Any]:
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
    try:
        validate_bundle(bundle)
    except FhirValidationError as exc:
        raise _validation_error(exc) from None
    for i, entry in enumerate(bundle.get("entry", [])):
        method = entry["request"]["method"]
        if method not in WRITE_METHODS:
            raise _entry_error(i, f"{method}: this gateway writes (POST, PUT) only", "request")
    return bundle


def _references(node: Any) -> Iterator[dict[str, Any]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("reference"), str):
                yield item
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))


def assign_ids(bundle: dict[str, Any]) -> list[str]:
    """Give each created resource an id (kept if it has one), resolve ``fullUrl``
    references to ``Type/id``; the entries' locations, in order."""
    by_full_url: dict[str, str] = {}
    locations = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        rid = resource.get("id")
        if not isinstance(rid, str):
            rid = resource["id"] = str(uuid.uuid4())
        local = f"{resource['resourceType']}/{rid}"
        if isinstance(entry.get("fullUrl"), str):
            by_full_url[entry["fullUrl"]] = local
        locations.append(local)
    for entry in bundle["entry"]:
        for ref in _references(entry["resource"]):
            target = by_full_url.get(ref["reference"])
            if target is not None:
                ref["reference"] = target
    return locations


def the_patient(bundle: dict[str, Any]) -> str:
    """The one patient the Bundle is about: a Patient entry's id, else the ``Patient/ID``
    its references name. None or several: 400."""
    ids = {
        e["resource"]["id"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient" and isinstance(e["resource"].get("id"), str)
    }
    if not ids:
        ids = {
            ref["reference"].removeprefix("Patient/")
            for e in bundle["entry"]
            for ref in _references(e["resource"])
            if ref["reference"].startswith("Patient/")
        }
    if len(ids) != 1:
        named = ", ".join(sorted(ids)) or "none"
        raise FhirError(400, "invalid", f"a Bundle writes for exactly one patient (found: {named})")
    pid = str(ids.pop())
    if not ID.match(pid):
        raise FhirError(400, "invalid", f"{pid!r} is not a patient id of PHR Exchange")
    return pid


def _prefer(request: Request) -> str:
    prefer = request.headers.get("prefer", "")
    for part in prefer.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "return" and value in ("minimal", "representation", "OperationOutcome"):
            return value
    return "minimal"


@router.post("/", include_in_schema=False)
@router.post("", summary="A transaction or batch Bundle for one patient (as a contributor)")
async def transaction(
    request: Request,
    caller: Annotated[Caller, Depends(require("Bundle", "c"))],
) -> Response:
    bundle = await read_bundle(request)
    pid = the_patient(bundle)
    locations = assign_ids(bundle)
    ident, cloud = caller.identity, caller.cloud
    with sdk_errors(f"writing for patient {pid}"):
        token = await cloud.token(ident, "kgc")
        patient = await cloud.kgc.user(token, pid)
        if patient.get("role") != "patient":
            raise FhirError(404, "not-found", f"{pid} is not a patient")
        async with cloud.writer(ident) as records:
            published = await records.published_keys(
                pid, author=VerifyKey.from_b64(patient["ed25519_public"])
            )
            info = await records.upload_record(
                bundle,
                patient_id=pid,
                keys=ContributorKeys(published.recipient_keys()),
                author=ident.keys.signing,
                record_id=new_record_id(),
                validate=False,  # validated above
            )
    prefer = _prefer(request)
    entries = []
    for entry, location in zip(bundle["entry"], locations, strict=True):
        status = "201 Created" if entry["request"]["method"] == "POST" else "200 OK"
        out: dict[str, Any] = {
            "response": {
                "status": status,
                "location": f"{location}/_history/1",
                "etag": 'W/"1"',
            }
        }
        if prefer == "representation":
            out = {
                "fullUrl": f"{caller.base_url}/fhir/{location}",
                "resource": entry["resource"],
            } | out
        elif prefer == "OperationOutcome":
            out["response"]["outcome"] = operation_outcome(
                [issue("information", "informational", f"stored in record {info.record_id}")]
            )
        entries.append(out)
    kind = "transaction-response" if bundle["type"] == "transaction" else "batch-response"
    answer = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": kind,
        "identifier": {"system": "urn:phr-exchange:record", "value": info.record_id},
        "entry": entries,
    }
    return fhir_response(answer, 200)

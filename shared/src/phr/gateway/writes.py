"""Writes: ``POST /fhir`` with a transaction or batch Bundle.

The gateway checks the Bundle (R4 models and :mod:`phr.fhir.r4`, see
:mod:`phr.gateway.entries`), assigns the ids a server assigns on create, then encrypts
to the patient's published segment keys (their signature checked against the
patient's key in the KGC's directory) and uploads one record. The organisation writes
only where the patient authorised it as a contributor: owner-api refuses the upload's
first step otherwise, before anything is stored (403).

A ``transaction`` is all or nothing: one patient, every entry valid, one record, or a
400/403 OperationOutcome and nothing stored. A ``batch`` is processed per entry: each
valid entry is stored (one record per patient its entries are about), each invalid or
refused one gets its own status and OperationOutcome in the ``batch-response``.
"""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.client.record import ContributorKeys
from phr.crypto.signing import VerifyKey
from phr.gateway.entries import (
    assign_ids,
    check_batch,
    check_transaction,
    entry_patient,
    read_bundle,
    the_patient,
)
from phr.gateway.outcome import FhirError, fhir_response, issue, operation_outcome, sdk_errors
from phr.gateway.state import Caller, require
from phr.sdk.records import new_record_id

router = APIRouter(prefix="/fhir", tags=["fhir"])

CAPABILITY: Final[list[dict[str, Any]]] = []
BATCH: Final = True
PREFER_RETURN: Final = ("minimal", "representation", "OperationOutcome")


def prefer_return(request: Request) -> str:
    """``Prefer: return=...`` (R4 http.html#ops): ``minimal`` unless asked otherwise."""
    for part in request.headers.get("prefer", "").replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "return" and value.strip('"') in PREFER_RETURN:
            return value.strip('"')
    return "minimal"


async def store(caller: Caller, pid: str, bundle: dict[str, Any]) -> str:
    """Encrypt ``bundle`` to patient ``pid``'s published keys and upload it: its record id."""
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
                validate=False,  # checked by the caller
            )
    return info.record_id


def _created(
    entry: dict[str, Any], location: str, record_id: str, prefer: str, fhir_base: str
) -> dict[str, Any]:
    status = "201 Created" if entry["request"]["method"] == "POST" else "200 OK"
    out: dict[str, Any] = {
        "response": {"status": status, "location": f"{location}/_history/1", "etag": 'W/"1"'}
    }
    if prefer == "representation":
        out = {"fullUrl": f"{fhir_base}/{location}", "resource": entry["resource"]} | out
    elif prefer == "OperationOutcome":
        out["response"]["outcome"] = operation_outcome(
            [issue("information", "informational", f"stored in record {record_id}")]
        )
    return out


def _failed(exc: FhirError) -> dict[str, Any]:
    return {
        "response": {
            "status": f"{exc.status} {HTTPStatus(exc.status).phrase}",
            "outcome": exc.outcome(),
        }
    }


async def _transaction(
    caller: Caller, bundle: dict[str, Any], prefer: str
) -> tuple[list[dict[str, Any]], list[str]]:
    check_transaction(bundle)
    pid = the_patient(bundle)
    locations = assign_ids(bundle)
    record_id = await store(caller, pid, bundle)
    base = f"{caller.base_url}/fhir"
    answers = [
        _created(e, loc, record_id, prefer, base)
        for e, loc in zip(bundle["entry"], locations, strict=True)
    ]
    return answers, [record_id]


async def _batch(
    caller: Caller, bundle: dict[str, Any], prefer: str
) -> tuple[list[dict[str, Any]], list[str]]:
    entries: list[dict[str, Any]] = bundle.get("entry", [])
    errors = check_batch(bundle)
    by_patient: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        if i not in errors:
            try:
                by_patient.setdefault(entry_patient(i, entry), []).append(i)
            except FhirError as exc:
                errors[i] = exc
    answers: dict[int, dict[str, Any]] = {i: _failed(exc) for i, exc in errors.items()}
    records = []
    base = f"{caller.base_url}/fhir"
    for pid, indices in by_patient.items():
        part = {"resourceType": "Bundle", "type": "batch", "entry": [entries[i] for i in indices]}
        locations = assign_ids(part, resolve=False)
        try:
            record_id = await store(caller, pid, part)
        except FhirError as exc:
            answers |= {i: _failed(exc) for i in indices}
            continue
        records.append(record_id)
        for i, location in zip(indices, locations, strict=True):
            answers[i] = _created(entries[i], location, record_id, prefer, base)
    return [answers[i] for i in range(len(entries))], records


@router.post("/", include_in_schema=False)
@router.post("", summary="A transaction (all or nothing) or batch (per entry) Bundle")
async def transaction(
    request: Request,
    caller: Annotated[Caller, Depends(require("Bundle", "c"))],
) -> Response:
    bundle = await read_bundle(request)
    prefer = prefer_return(request)
    if bundle["type"] == "transaction":
        entries, records = await _transaction(caller, bundle, prefer)
    else:
        entries, records = await _batch(caller, bundle, prefer)
    answer: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": f"{bundle['type']}-response",
    }
    if len(records) == 1:
        answer["identifier"] = {"system": "urn:phr-exchange:record", "value": records[0]}
    answer["entry"] = entries
    return fhir_response(answer, 200)

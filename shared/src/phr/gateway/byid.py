"""Reads by id: ``GET /fhir/{type}/{id}`` for every type the gateway serves.

A record-held type (each type of the segment vocabulary, :mod:`phr.fhir.segments`) is
looked for in the segment holding that type, in the records the caller's identity may
read: first where the gateway served it lately (:class:`phr.gateway.state.Locations`),
else in every patient's records shared with that identity. ``Consent`` is a grant and
``AuditEvent`` a verified ledger event (:mod:`phr.gateway.consent`, :mod:`phr.gateway.audit`),
looked for among the patients' grants and trails the same way.

Answers: ``200`` with ``ETag: W/"1"`` and ``meta.versionId`` (records are immutable: a
resource has one version), ``404`` for an id the caller cannot read (unknown, or in a
segment withheld from it: which is not said), ``410`` when the record that held it was
deleted. Each is ``application/fhir+json``; errors are OperationOutcomes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.fhir.segments import RESOURCE_SEGMENT, segment_for
from phr.gateway.audit import patient_audit
from phr.gateway.consent import patient_consents
from phr.gateway.outcome import FhirError, fhir_response, sdk_errors
from phr.gateway.reads import read_segments
from phr.gateway.references import localise, mask_dangling
from phr.gateway.state import Caller, State, require
from phr.sdk.access import AccessError

router = APIRouter(prefix="/fhir", tags=["fhir"])

RECORD_TYPES: Final = tuple(sorted(RESOURCE_SEGMENT))
READABLE: Final = frozenset(RECORD_TYPES) | {"Consent", "AuditEvent"}
FHIR_ID: Final = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
CAPABILITY: Final[list[dict[str, Any]]] = [
    {"type": t, "interaction": [{"code": "read"}], "versioning": "versioned"}
    for t in sorted(READABLE)
]


class Readable:
    """The references a client can resolve by a read here: ``Type/id`` of a type its
    scopes allow, which the gateway has served to its identity (so knows where it is)."""

    def __init__(self, caller: Caller, fhir_base: str) -> None:
        self.caller = caller
        self.prefix = f"{fhir_base}/"

    def __contains__(self, target: object) -> bool:
        if not isinstance(target, str):
            return False
        local = target.removeprefix(self.prefix)
        rtype = local.partition("/")[0]
        return self.caller.allows(rtype, "r") and self.caller.where(local) is not None


class Gone(Exception):
    """The record that held the resource was deleted."""


async def _in_records(caller: Caller, rtype: str, rid: str, pid: str, records: list[str]) -> Any:
    reader = caller.cloud.reader(caller.identity)
    segment = segment_for(rtype).value
    gone = False
    for record_id in records:
        try:
            entries, _ = await read_segments(reader, pid, record_id, [segment])
        except AccessError as exc:
            if exc.status in (404, 410):
                gone = True  # deleted since it was listed or served
                continue
            raise
        caller.remember(pid, record_id, entries)
        localise(entries)
        for entry in entries:
            resource = entry["resource"]
            if resource.get("resourceType") == rtype and resource.get("id") == rid:
                return {"resource": resource, "patient": pid}
    if gone:
        raise Gone
    return None


async def _record_lookup(caller: Caller, rtype: str, rid: str, pid: str, rec: str | None) -> Any:
    if rec is not None:
        return await _in_records(caller, rtype, rid, pid, [rec])
    reader = caller.cloud.reader(caller.identity)
    detail = await reader.shared_detail(pid)
    segment = segment_for(rtype).value
    holding = [r["record_id"] for r in detail["records"] if segment in r["segments"]]
    return await _in_records(caller, rtype, rid, pid, holding)


async def _lookup(caller: Caller, rtype: str, rid: str, pid: str, rec: str | None) -> Any:
    """The entry (``fullUrl``, ``resource``) of ``rtype/rid`` among patient ``pid``'s."""
    if rtype == "Consent":
        found = [c for c in await patient_consents(caller, pid) if c["id"] == rid]
    elif rtype == "AuditEvent":
        found = [e for e in (await patient_audit(caller, pid))[0] if e["id"] == rid]
    else:
        return await _record_lookup(caller, rtype, rid, pid, rec)
    return {"resource": found[0], "patient": pid} if found else None


def reader_of(permission: str) -> Callable[..., Awaitable[Caller]]:
    """``require`` for the path's type, after a 404 for a type not served."""

    async def dependency(rtype: str, request: Request, state: State) -> Caller:
        if rtype not in READABLE:
            raise FhirError(404, "not-supported", f"this server serves no {rtype!r} resources")
        return await require(rtype, permission)(request, state)

    return dependency


@router.get("/{rtype}/{rid}", summary="One resource by id (Observation, Consent, ...)")
async def read(
    rtype: str, rid: str, caller: Annotated[Caller, Depends(reader_of("r"))]
) -> Response:
    if not FHIR_ID.match(rid):
        raise FhirError(404, "not-found", f"{rid!r} is not a FHIR id", expression=["id"])
    local = f"{rtype}/{rid}"
    hint = caller.where(local)
    try:
        with sdk_errors(f"reading {local}"):
            entry = None
            if hint is not None:
                entry = await _lookup(caller, rtype, rid, *hint)
            if entry is None:
                reader = caller.cloud.reader(caller.identity)
                for patient in await reader.shared():
                    pid = patient["patient_id"]
                    if hint is None or pid != hint[0] or hint[1] is not None:
                        entry = await _lookup(caller, rtype, rid, pid, None)
                    if entry is not None:
                        break
    except Gone:
        raise FhirError(410, "deleted", f"{local}: the record holding it was deleted") from None
    if entry is None:
        raise FhirError(404, "not-found", f"{local} is not among what this client may read")
    fhir_base = f"{caller.base_url}/fhir"
    resource: dict[str, Any] = entry["resource"]
    resource.setdefault("meta", {}).setdefault("versionId", "1")
    version = resource["meta"]["versionId"]
    mask_dangling([entry], Readable(caller, fhir_base), fhir_base, entry.get("patient"))
    headers = {"ETag": f'W/"{version}"', "Content-Location": f"{fhir_base}/{local}"}
    return fhir_response(resource, headers=headers)

"""Reads: ``Patient/$everything``, decrypted inside the gateway, and the helpers the
other reads share (search by code: :mod:`phr.gateway.search`; by id: :mod:`phr.gateway.byid`).

A read asks the SRS nodes only for segments the caller's identity holds usable grants
for (user-api's listing of the patient says which, and which are withheld and why), so
a normal read adds no ``access.denied`` to the patient's trail. References to what
the caller may not see are replaced (:mod:`phr.gateway.references`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.api.ids import ID_PATTERN
from phr.gateway.bundles import Withheld, match_entry, searchset, withheld_outcome
from phr.gateway.outcome import FhirError, fhir_response, issue, sdk_errors
from phr.gateway.references import localise, mask_dangling, resolvable
from phr.gateway.state import Caller, require
from phr.sdk.access import AccessClient, AccessDenied

router = APIRouter(prefix="/fhir", tags=["fhir"])

ID = re.compile(ID_PATTERN)
CAPABILITY: Final[list[dict[str, Any]]] = [
    {
        "type": "Patient",
        "operation": [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            }
        ],
    }
]


def patient_id(value: str | None) -> str:
    """The ``patient`` search parameter (or path id): required, one of our ids."""
    if value is None:
        raise FhirError(400, "required", "give patient=ID", expression=["patient"])
    pid = value.removeprefix("Patient/")
    if not ID.match(pid):
        raise FhirError(400, "value", f"{value!r} is not a patient id", expression=["patient"])
    return pid


async def read_segments(
    reader: AccessClient, pid: str, record_id: str, segments: list[str]
) -> tuple[list[dict[str, Any]], list[Withheld]]:
    """The entries of ``segments`` of one record, and those the SRS nodes refused."""
    try:
        opened = await reader.open_record(pid, record_id, segments, allow_partial=True)
    except AccessDenied as exc:
        return [], [Withheld(record_id, s, _reason(r)) for s, r in sorted(exc.denied.items())]
    denied = [Withheld(record_id, s, _reason(r)) for s, r in sorted(opened.access.denied.items())]
    return list(opened.bundle.get("entry", [])), denied


def _reason(srs_reason: str) -> str:
    text = srs_reason.lower()
    for reason in ("revoked", "expired"):
        if reason in text:
            return reason
    return "not-granted"


def scope_filter(
    caller: Caller, entries: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Entries whose type the client's scopes let it read, and one issue per type left out."""
    kept: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for entry in entries:
        rtype = entry["resource"]["resourceType"]
        if caller.allows(rtype, "r"):
            kept.append(entry)
        else:
            dropped[rtype] = dropped.get(rtype, 0) + 1
    issues = [
        issue(
            "information",
            "suppressed",
            f"{n} {rtype} resource(s) left out: not in the client's scopes",
        )
        for rtype, n in sorted(dropped.items())
    ]
    return kept, issues


@router.get("/Patient/{pid}/$everything", summary="What the caller may see of one patient")
async def everything(
    pid: str,
    request: Request,
    caller: Annotated[Caller, Depends(require("Patient", "r"))],
) -> Response:
    pid = patient_id(pid)
    reader = caller.cloud.reader(caller.identity)
    fhir_base = f"{caller.base_url}/fhir"
    with sdk_errors(f"reading patient {pid}"):
        detail = await reader.shared_detail(pid)
        entries: list[dict[str, Any]] = []
        withheld = [Withheld(w["record_id"], w["segment"], w["reason"]) for w in detail["withheld"]]
        for record in detail["records"]:
            got, refused = await read_segments(
                reader, pid, record["record_id"], sorted(record["segments"])
            )
            localise(got)  # per record: its urn:uuid references are its own
            entries.extend(got)
            withheld.extend(refused)
            caller.remember(pid, record["record_id"], got)
    kept, scope_issues = scope_filter(caller, entries)
    matches = [match_entry(e, fhir_base) for e in kept]
    extra = list(scope_issues)
    masked = mask_dangling(matches, resolvable(matches, fhir_base), fhir_base, pid)
    if masked:
        extra.append(
            issue(
                "information",
                "suppressed",
                f"{masked} reference(s) to resources not served to this client replaced "
                "(a logical reference to the patient, or data-absent-reason masked)",
            )
        )
    if not detail["grants"]:
        extra.append(
            issue("information", "not-found", f"patient {pid} has granted this identity nothing")
        )
    outcome = withheld_outcome(withheld, extra)
    bundle = searchset(
        matches,
        self_url=str(request.url),
        outcome=outcome,
        redacted=bool(withheld or scope_issues),
    )
    return fhir_response(bundle)

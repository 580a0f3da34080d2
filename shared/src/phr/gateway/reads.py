"""Reads: ``Patient/$everything`` and search by code, decrypted inside the gateway.

A read asks the SRS nodes only for segments the caller's identity holds usable grants
for (user-api's listing of the patient says which, and which are withheld and why), so
a normal read adds no ``access.denied`` to the patient's trail. Search by code goes
through trapdoors (:meth:`phr.sdk.access.AccessClient.search`): the index learns only
which segments match.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from phr.api.ids import ID_PATTERN
from phr.fhir.keywords import code_keyword
from phr.fhir.segments import segment_for
from phr.gateway.bundles import Withheld, match_entry, page_links, searchset, withheld_outcome
from phr.gateway.outcome import FhirError, fhir_response, issue, sdk_errors
from phr.gateway.state import Caller, require
from phr.sdk.access import AccessClient, AccessDenied

router = APIRouter(prefix="/fhir", tags=["fhir"])

ID = re.compile(ID_PATTERN)
SEARCHABLE: Final = ("Observation", "Condition", "MedicationRequest")
#: where each searchable type keeps its code
CODE_FIELD: Final = {
    "Observation": "code",
    "Condition": "code",
    "MedicationRequest": "medicationCodeableConcept",
}
DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 200

_CODE_SEARCH: Final = [
    {"name": "patient", "type": "reference", "documentation": "required: one patient id"},
    {"name": "code", "type": "token", "documentation": "system|code, e.g. http://loinc.org|4548-4"},
]
CAPABILITY: Final[list[dict[str, Any]]] = [
    {
        "type": "Patient",
        "operation": [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            }
        ],
    },
    *(
        {"type": t, "interaction": [{"code": "search-type"}], "searchParam": _CODE_SEARCH}
        for t in SEARCHABLE
    ),
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


def _scope_filter(
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
            entries.extend(got)
            withheld.extend(refused)
    kept, scope_issues = _scope_filter(caller, entries)
    matches = [match_entry(e, fhir_base) for e in kept]
    extra = list(scope_issues)
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


def _codes(value: str) -> list[tuple[str, str]]:
    out = []
    for token in value.split(","):
        system, sep, code = token.strip().rpartition("|")
        if not sep or not system or not code:
            raise FhirError(
                400,
                "not-supported",
                f"code {token!r}: give system|code (search goes through keyword trapdoors)",
                expression=["code"],
            )
        out.append((system, code))
    return out


def _has_code(resource: dict[str, Any], field: str, codes: list[tuple[str, str]]) -> bool:
    concept = resource.get(field)
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return any(isinstance(c, dict) and (c.get("system"), c.get("code")) in codes for c in codings)


async def search_by_code(
    rtype: str,
    request: Request,
    caller: Caller,
    patient: str | None,
    code: str | None,
    count: int,
    offset: int,
) -> Response:
    if code is None:
        raise FhirError(400, "required", "give code=system|code", expression=["code"])
    pid = patient_id(patient)
    codes = _codes(code)
    segment = segment_for(rtype).value
    reader = caller.cloud.reader(caller.identity)
    fhir_base = f"{caller.base_url}/fhir"
    found: dict[str, dict[str, Any]] = {}
    withheld: list[Withheld] = []
    with sdk_errors(f"searching patient {pid}"):
        records: set[str] = set()
        for system, value in codes:
            matches = await reader.search([code_keyword(system, value)], patient_id=pid)
            records |= {m.record_id for m in matches if m.segment == segment}
        for record_id in sorted(records):
            entries, refused = await read_segments(reader, pid, record_id, [segment])
            withheld.extend(refused)
            for entry in entries:
                resource = entry["resource"]
                if resource.get("resourceType") == rtype and _has_code(
                    resource, CODE_FIELD[rtype], codes
                ):
                    match = match_entry(entry, fhir_base)
                    found.setdefault(match["fullUrl"], match)
    ordered = [found[k] for k in sorted(found)]
    params = {"patient": pid, "code": code}
    self_url, links = page_links(
        f"{caller.base_url}/fhir/{rtype}",
        params,
        offset=offset,
        count=count,
        total=len(ordered),
    )
    bundle = searchset(
        ordered[offset : offset + count],
        self_url=self_url,
        total=len(ordered),
        outcome=withheld_outcome(withheld),
        redacted=bool(withheld),
        links=links,
    )
    return fhir_response(bundle)


Count = Annotated[int, Query(alias="_count", ge=1, le=MAX_COUNT)]
Offset = Annotated[int, Query(alias="_offset", ge=0, le=1_000_000)]


ObservationSearch = Annotated[Caller, Depends(require("Observation", "s"))]
ConditionSearch = Annotated[Caller, Depends(require("Condition", "s"))]
MedicationRequestSearch = Annotated[Caller, Depends(require("MedicationRequest", "s"))]


@router.get("/Observation", summary="Observations of one patient by code")
async def observations(
    request: Request,
    caller: ObservationSearch,
    patient: str | None = None,
    code: str | None = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> Response:
    return await search_by_code("Observation", request, caller, patient, code, count, offset)


@router.get("/Condition", summary="Conditions of one patient by code")
async def conditions(
    request: Request,
    caller: ConditionSearch,
    patient: str | None = None,
    code: str | None = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> Response:
    return await search_by_code("Condition", request, caller, patient, code, count, offset)


@router.get("/MedicationRequest", summary="MedicationRequests of one patient by code")
async def medication_requests(
    request: Request,
    caller: MedicationRequestSearch,
    patient: str | None = None,
    code: str | None = None,
    count: Count = DEFAULT_COUNT,
    offset: Offset = 0,
) -> Response:
    return await search_by_code("MedicationRequest", request, caller, patient, code, count, offset)

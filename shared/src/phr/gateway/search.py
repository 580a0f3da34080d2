"""Search by code: ``GET /fhir/{Observation,Condition,MedicationRequest}?patient=&code=``.

Search goes through keyword trapdoors (:meth:`phr.sdk.access.AccessClient.search`):
the index learns only which segments match. ``code`` is a FHIR token, one or several
separated by commas (any of them matches): ``system|code``, or ``code`` alone, which
matches that code in any of the code systems the keyword index names
(:data:`phr.fhir.keywords.CODE_SYSTEMS`: LOINC, SNOMED CT, RxNorm, ICD-10, CVX).
``_count`` sizes a page; the Bundle links ``first``/``previous``/``next``/``last``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from phr.fhir.keywords import CODE_SYSTEMS, code_keyword
from phr.fhir.segments import segment_for
from phr.gateway.bundles import Withheld, match_entry, page_links, searchset, withheld_outcome
from phr.gateway.outcome import FhirError, fhir_response, sdk_errors
from phr.gateway.reads import patient_id, read_segments, scope_filter
from phr.gateway.references import localise, mask_dangling, resolvable
from phr.gateway.state import Caller, require

router = APIRouter(prefix="/fhir", tags=["fhir"])

SEARCHABLE: Final = ("Observation", "Condition", "MedicationRequest")
#: where each searchable type keeps its code
CODE_FIELD: Final = {
    "Observation": "code",
    "Condition": "code",
    "MedicationRequest": "medicationCodeableConcept",
}
DEFAULT_COUNT: Final = 50
MAX_COUNT: Final = 200
MAX_CODES: Final = 10
#: the systems a code without one is looked for in (each has a short keyword name)
SHORT_SYSTEMS: Final = tuple(dict.fromkeys(CODE_SYSTEMS))

_CODE_SEARCH: Final = [
    {"name": "patient", "type": "reference", "documentation": "required: one patient id"},
    {
        "name": "code",
        "type": "token",
        "documentation": "system|code (e.g. http://loinc.org|4548-4), or a code alone "
        "(looked for in LOINC, SNOMED CT, RxNorm, ICD-10 and CVX); comma-separated: any",
    },
    {"name": "_count", "type": "number", "documentation": f"page size, at most {MAX_COUNT}"},
]
CAPABILITY: Final[list[dict[str, Any]]] = [
    {"type": t, "interaction": [{"code": "search-type"}], "searchParam": _CODE_SEARCH}
    for t in SEARCHABLE
]
Code = tuple[str | None, str]  # (system or None for any, code)


def parse_codes(value: str) -> list[Code]:
    """The ``code`` parameter's tokens (400 for an empty one or too many)."""
    out: list[Code] = []
    for token in value.split(","):
        system, sep, code = token.strip().rpartition("|")
        if not code or (sep and not system):
            raise FhirError(
                400,
                "not-supported" if code else "value",
                f"code {token!r}: give system|code or a code",
                expression=["code"],
            )
        out.append((system or None, code))
    if len(out) > MAX_CODES:
        raise FhirError(400, "too-costly", f"at most {MAX_CODES} codes", expression=["code"])
    return out


def keywords(codes: list[Code]) -> list[str]:
    """One index keyword per (system, code) to look for."""
    out = []
    for system, code in codes:
        systems = [system] if system is not None else list(SHORT_SYSTEMS)
        out += [code_keyword(s, code) for s in systems]
    return sorted(set(out))


def has_code(resource: dict[str, Any], field: str, codes: list[Code]) -> bool:
    concept = resource.get(field)
    codings = concept.get("coding", []) if isinstance(concept, dict) else []
    return any(
        isinstance(c, dict) and c.get("code") == code and system in (None, c.get("system"))
        for c in codings
        for system, code in codes
    )


async def search_by_code(
    rtype: str, request: Request, caller: Caller, patient: str | None, code: str | None
) -> Response:
    if code is None:
        raise FhirError(400, "required", "give code=system|code", expression=["code"])
    count, offset = _paging(request)
    pid = patient_id(patient)
    codes = parse_codes(code)
    segment = segment_for(rtype).value
    reader = caller.cloud.reader(caller.identity)
    fhir_base = f"{caller.base_url}/fhir"
    withheld: list[Withheld] = []
    opened: list[dict[str, Any]] = []
    with sdk_errors(f"searching patient {pid}"):
        keys = await reader.search_keys(pid)
        found = await asyncio.gather(
            *(reader.search([k], patient_id=pid, search_keys=keys) for k in keywords(codes))
        )
        records = sorted({m.record_id for ms in found for m in ms if m.segment == segment})
        for record_id in records:
            entries, refused = await read_segments(reader, pid, record_id, [segment])
            withheld.extend(refused)
            localise(entries)  # per record: its urn:uuid references are its own
            opened.extend(entries)
            caller.remember(pid, record_id, entries)
    visible, _ = scope_filter(caller, opened)
    by_url: dict[str, dict[str, Any]] = {}
    for entry in visible:
        resource = entry["resource"]
        if resource.get("resourceType") == rtype and has_code(resource, CODE_FIELD[rtype], codes):
            match = match_entry(entry, fhir_base)
            by_url.setdefault(match["fullUrl"], match)
    ordered = [by_url[k] for k in sorted(by_url)]
    page = ordered[offset : offset + count]
    known = resolvable([match_entry(e, fhir_base) for e in visible], fhir_base)
    mask_dangling(page, known, fhir_base, pid)
    self_url, links = page_links(
        f"{fhir_base}/{rtype}",
        {"patient": pid, "code": code},
        offset=offset,
        count=count,
        total=len(ordered),
    )
    bundle = searchset(
        page,
        self_url=self_url,
        total=len(ordered),
        outcome=withheld_outcome(withheld),
        redacted=bool(withheld),
        links=links,
    )
    return fhir_response(bundle)


def _paging(request: Request) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise FhirError(
                400, "value", f"{name} must be a whole number {low}..{high}", expression=[name]
            )
        return int(raw)

    return number("_count", DEFAULT_COUNT, 1, MAX_COUNT), number("_offset", 0, 0, 1_000_000)


Patient = Annotated[str | None, Query()]
Codes = Annotated[str | None, Query()]


@router.get("/Observation", summary="Observations of one patient by code")
async def observations(
    request: Request,
    caller: Annotated[Caller, Depends(require("Observation", "s"))],
    patient: Patient = None,
    code: Codes = None,
) -> Response:
    return await search_by_code("Observation", request, caller, patient, code)


@router.get("/Condition", summary="Conditions of one patient by code")
async def conditions(
    request: Request,
    caller: Annotated[Caller, Depends(require("Condition", "s"))],
    patient: Patient = None,
    code: Codes = None,
) -> Response:
    return await search_by_code("Condition", request, caller, patient, code)


@router.get("/MedicationRequest", summary="MedicationRequests of one patient by code")
async def medication_requests(
    request: Request,
    caller: Annotated[Caller, Depends(require("MedicationRequest", "s"))],
    patient: Patient = None,
    code: Codes = None,
) -> Response:
    return await search_by_code("MedicationRequest", request, caller, patient, code)

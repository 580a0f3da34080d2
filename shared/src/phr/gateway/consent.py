"""Grants as FHIR R4 Consent: ``GET /fhir/Consent?patient=ID``.

Each grant of the patient addressed to the caller's identity (by user id, or to a
group it belongs to), whatever its status, becomes one Consent: scope
``patient-privacy``, a ``permit`` provision whose actor is the grantee, whose
``class`` lists the FHIR resource types of each granted segment (the segment
vocabulary of :mod:`phr.fhir.segments`) and whose ``period`` is the grant's; the
purpose maps onto v3 ActReason where one fits. A revoked or expired grant is
``inactive``. The gateway sees the grants made to its own identities only: a patient's
grants to others are none of its business.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.fhir.segments import RESOURCE_SEGMENT
from phr.gateway.bundles import searchset, served_matches
from phr.gateway.outcome import fhir_response, sdk_errors
from phr.gateway.reads import patient_id
from phr.gateway.references import patient_reference
from phr.gateway.state import Caller, require

router = APIRouter(prefix="/fhir", tags=["fhir"])

CAPABILITY: Final[list[dict[str, Any]]] = [
    {
        "type": "Consent",
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            {"name": "patient", "type": "reference", "documentation": "required: one patient id"}
        ],
    }
]
SEGMENT_SYSTEM: Final = "urn:phr-exchange:segment"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#: our purposes (free text on a grant) -> v3 ActReason codes
PURPOSES: Final = {
    "treatment": "TREAT",
    "care": "TREAT",
    "emergency": "ETREAT",
    "billing": "HPAYMT",
    "payment": "HPAYMT",
    "research": "HRESCH",
    "operations": "HOPERAT",
}
STATUS: Final = {
    "active": "active",
    "pending": "active",
    "revoked": "inactive",
    "expired": "inactive",
}


def fhir_id(value: str) -> str:
    """FHIR ids allow ``[A-Za-z0-9-.]{1,64}``: ``g_1f…`` becomes ``g-1f…``."""
    return re.sub(r"[^A-Za-z0-9\-.]", "-", value)[:64]


def _instant(value: str | None) -> str | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).isoformat()


def _purpose(purpose: str | None) -> list[dict[str, str]]:
    if not purpose:
        return []
    code = PURPOSES.get(purpose.lower())
    if code is not None:
        return [{"system": ACT_REASON, "code": code}]
    return [{"system": "urn:phr-exchange:purpose", "code": fhir_id(purpose), "display": purpose}]


def _actor(grant: dict[str, Any]) -> dict[str, Any]:
    if grant.get("grantee_user_id"):
        who: dict[str, Any] = {
            "identifier": {"system": "urn:phr-exchange:user", "value": grant["grantee_user_id"]}
        }
    else:
        selector = grant.get("grantee_group") or {}
        text = ", ".join(f"{k}={v}" for k, v in sorted(selector.items()))
        who = {"identifier": {"system": "urn:phr-exchange:group", "value": text}, "display": text}
    return {
        "role": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP",
                    "display": "information recipient",
                }
            ]
        },
        "reference": who,
    }


def _classes(segments: list[str]) -> list[dict[str, str]]:
    """The resource types of the granted segments; a segment of no listed type (``other``)
    by its name."""
    names = set(segments)
    listed = {segment.value for segment in RESOURCE_SEGMENT.values()}
    out = [
        {"system": "http://hl7.org/fhir/resource-types", "code": rtype}
        for rtype, segment in RESOURCE_SEGMENT.items()
        if segment.value in names
    ]
    out += [{"system": SEGMENT_SYSTEM, "code": s} for s in sorted(names - listed)]
    return out


def grant_consent(pid: str, grant: dict[str, Any]) -> dict[str, Any]:
    """One grant (user-api's ``GrantToCaller``) as an R4 Consent."""
    provision: dict[str, Any] = {"type": "permit", "actor": [_actor(grant)]}
    period = {
        k: v
        for k, v in (
            ("start", _instant(grant.get("not_before"))),
            ("end", _instant(grant.get("expires_at"))),
        )
        if v is not None
    }
    if period:
        provision["period"] = period
    if grant.get("data_from"):
        provision["dataPeriod"] = {"start": _instant(grant["data_from"])}
    purpose = _purpose("emergency" if grant.get("emergency") else grant.get("purpose"))
    if purpose:
        provision["purpose"] = purpose
    provision["class"] = _classes(list(grant.get("segments", [])))
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": fhir_id(grant["grant_id"]),
        "identifier": [{"system": "urn:phr-exchange:grant", "value": grant["grant_id"]}],
        "status": STATUS.get(grant.get("status", ""), "inactive"),
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [
            {"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Consent"}]}
        ],
        "patient": patient_reference(pid),
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": provision,
    }
    return consent


async def patient_consents(caller: Caller, pid: str) -> list[dict[str, Any]]:
    """The patient's grants to the caller's identity (or its groups), as Consents."""
    reader = caller.cloud.reader(caller.identity)
    with sdk_errors(f"reading the grants of {pid}"):
        detail = await reader.shared_detail(pid)
    found = [grant_consent(pid, g) for g in detail["grants"]]
    caller.remember(pid, None, found)
    return found


@router.get("/Consent", summary="The patient's grants to this gateway's identity, as Consent")
async def consents(
    request: Request,
    caller: Annotated[Caller, Depends(require("Consent", "s"))],
    patient: str | None = None,
) -> Response:
    pid = patient_id(patient)
    found = await patient_consents(caller, pid)
    matches = served_matches(found, f"{caller.base_url}/fhir")
    return fhir_response(searchset(matches, self_url=str(request.url)))

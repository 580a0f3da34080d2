"""The patient's ledger trail as FHIR R4 AuditEvents (IHE Basic Audit Log Patterns).

``GET /fhir/AuditEvent?patient=ID`` fetches the ledger's trail of the patient as the
caller's identity may see it (the events naming it), verifies the ledger's signed
checkpoint with the ledger key of the KGC's signed parameters and each event's RFC 6962
inclusion proof against it, and serves only what verifies (an OperationOutcome names
what did not). Each event follows a BALP profile: a read (``access.*``) is
``PatientRead``, an upload ``PatientCreate``, a grant ``PatientCreate`` of a Consent and
a revocation ``PatientDelete`` of one; break-glass reads carry the purpose ``BTG``
(break the glass) and the stated reason.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from phr.crypto.signing import VerifyKey
from phr.gateway.bundles import searchset, served_matches, withheld_outcome
from phr.gateway.consent import fhir_id
from phr.gateway.outcome import FhirError, fhir_response, issue, sdk_errors
from phr.gateway.reads import patient_id
from phr.gateway.references import patient_reference
from phr.gateway.state import Caller, require
from phr.ledger.verify import LedgerVerificationError, verify_checkpoint, verify_inclusion
from phr.ledger.wire import AuditTrailOut, InclusionProofOut
from phr.sdk.errors import raise_for_problem

router = APIRouter(prefix="/fhir", tags=["fhir"])

CAPABILITY: Final[list[dict[str, Any]]] = [
    {
        "type": "AuditEvent",
        "supportedProfile": [
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead",
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientCreate",
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientDelete",
        ],
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            {"name": "patient", "type": "reference", "documentation": "required: one patient id"}
        ],
    }
]
BALP: Final = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
REST: Final = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "Restful Operation",
}
#: event type -> (BALP profile, FHIR interaction, action, entity type of the data)
KINDS: Final = {
    "access.requested": ("PatientRead", "read", "R", "Bundle"),
    "access.decided": ("PatientRead", "read", "R", "Bundle"),
    "access.granted": ("PatientRead", "read", "R", "Bundle"),
    "access.denied": ("PatientRead", "read", "R", "Bundle"),
    "access.breakglass": ("PatientRead", "read", "R", "Bundle"),
    "record.uploaded": ("PatientCreate", "create", "C", "Bundle"),
    "acl.granted": ("PatientCreate", "create", "C", "Consent"),
    "acl.revoked": ("PatientDelete", "delete", "D", "Consent"),
}
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
_PARTY_FIELDS: Final = ("requester_id", "uploaded_by", "granted_by", "revoked_by")


def _who(data: dict[str, Any]) -> str | None:
    for name in _PARTY_FIELDS:
        if isinstance(data.get(name), str):
            return str(data[name])
    return None


def audit_event(pid: str, proof: InclusionProofOut, tree_size: int) -> dict[str, Any] | None:
    """One verified ledger event as a BALP AuditEvent (None for kinds BALP has no pattern
    for, e.g. key rotations)."""
    event = proof.event
    kind = KINDS.get(str(event.get("type")))
    if kind is None:
        return None
    profile, interaction, action, entity_type = kind
    data: dict[str, Any] = event.get("data") if isinstance(event.get("data"), dict) else {}  # type: ignore[assignment]
    denied = event.get("type") == "access.denied" or (
        event.get("type") == "access.decided"
        and bool(data.get("denied"))
        and not data.get("granted")
    )
    breakglass = event.get("type") == "access.breakglass" or bool(data.get("breakglass"))
    agent: dict[str, Any] = {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP" if action == "R" else "AUT",
                }
            ]
        },
        "who": {"identifier": {"system": "urn:phr-exchange:user", "value": _who(data) or "?"}},
        "requestor": True,
    }
    out: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": fhir_id(proof.event_id),
        "meta": {"profile": [BALP + profile]},
        "type": REST,
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": interaction}],
        "action": action,
        "recorded": str(event.get("time")),
        "outcome": "4" if denied else "0",
        "agent": [agent],
        "source": {
            "observer": {"display": str(event.get("source", "phr-exchange"))},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
        "entity": [
            {
                "what": patient_reference(pid),
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                },
            },
            _data_entity(event, data, entity_type),
            _ledger_entity(proof, tree_size),
        ],
    }
    if denied:
        out["outcomeDesc"] = str(data.get("reason") or "denied")
    if breakglass:
        btg = {"system": ACT_REASON, "code": "BTG", "display": "break the glass"}
        out["purposeOfEvent"] = [{"coding": [btg], "text": str(data.get("reason") or "")}]
        agent["purposeOfUse"] = [{"coding": [btg]}]
    return out


def _data_entity(event: dict[str, Any], data: dict[str, Any], entity_type: str) -> dict[str, Any]:
    if entity_type == "Consent":
        what = {
            "identifier": {"system": "urn:phr-exchange:grant", "value": str(data.get("grant_id"))}
        }
    else:
        what = {
            "identifier": {"system": "urn:phr-exchange:record", "value": str(data.get("record_id"))}
        }
    segments = data.get("segments") or ([data["segment"]] if data.get("segment") else [])
    for decided in (*(data.get("granted") or []), *(data.get("denied") or [])):
        if isinstance(decided, dict) and decided.get("segment"):
            segments.append(decided["segment"])
    entity: dict[str, Any] = {
        "what": what,
        "type": {"system": "http://hl7.org/fhir/resource-types", "code": entity_type},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4"},
    }
    details = [{"type": "event-type", "valueString": str(event.get("type"))}]
    details += [{"type": "segment", "valueString": str(s)} for s in segments]
    entity["detail"] = details
    return entity


def _ledger_entity(proof: InclusionProofOut, tree_size: int) -> dict[str, Any]:
    """Where the ledger holds the event, as the gateway verified it."""
    return {
        "what": {
            "identifier": {"system": "urn:phr-exchange:ledger-event", "value": proof.event_id}
        },
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
        "detail": [
            {"type": "verified-inclusion", "valueString": "true"},
            {"type": "leaf-index", "valueString": str(proof.leaf_index)},
            {"type": "tree-size", "valueString": str(tree_size)},
            {"type": "root-hash", "valueString": proof.root_hash},
        ],
    }


async def patient_audit(caller: Caller, pid: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The patient's trail as AuditEvents, each verified against the ledger's signed
    checkpoint; and the ids of the events that did not verify (left out)."""
    cloud = caller.cloud
    params = cloud.params
    if params.ledger is None:
        raise FhirError(503, "transient", "the system parameters name no ledger")
    ledger = cloud.url("ledger")
    with sdk_errors(f"reading the trail of {pid}"):
        info = raise_for_problem(await cloud.http.get(f"{ledger}/v1/key")).json()
        token = await cloud.token(caller.identity, "ledger")
        resp = await cloud.http.get(
            f"{ledger}/v1/audit/{pid}",
            params={"named_only": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )
        trail = AuditTrailOut.model_validate(raise_for_problem(resp).json())
    try:
        checkpoint = verify_checkpoint(
            trail.checkpoint, info["origin"], VerifyKey.from_b64(params.ledger.ed25519_public)
        )
    except LedgerVerificationError as exc:
        raise FhirError(
            502, "security", f"the ledger's checkpoint does not verify: {exc}"
        ) from None
    events, failed = [], []
    for proof in trail.entries:
        try:
            verify_inclusion(proof, checkpoint)
        except LedgerVerificationError:
            failed.append(proof.event_id)
            continue
        event = audit_event(pid, proof, checkpoint.size)
        if event is not None:
            events.append(event)
    caller.remember(pid, None, events)
    return events, failed


@router.get("/AuditEvent", summary="The patient's ledger trail, verified, as BALP AuditEvents")
async def audit_events(
    request: Request,
    caller: Annotated[Caller, Depends(require("AuditEvent", "s"))],
    patient: str | None = None,
) -> Response:
    pid = patient_id(patient)
    events, failed = await patient_audit(caller, pid)
    matches = served_matches(events, f"{caller.base_url}/fhir")
    outcome = withheld_outcome(
        [],
        [
            issue("error", "security", f"event {e} does not verify against the ledger: left out")
            for e in failed
        ],
    )
    return fhir_response(searchset(matches, self_url=str(request.url), outcome=outcome))

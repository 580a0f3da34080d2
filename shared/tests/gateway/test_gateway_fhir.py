"""The gateway's FHIR mappings, checked with the R4(B) models: Consent, AuditEvent, Bundles."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from phr.fhir.r4 import check_bundle_r4
from phr.gateway.audit import audit_event
from phr.gateway.bundles import Withheld, match_entry, page_links, searchset, withheld_outcome
from phr.gateway.consent import grant_consent
from phr.gateway.entries import assign_ids, the_patient
from phr.gateway.outcome import FhirError
from phr.ledger.wire import InclusionProofOut

GRANT: dict[str, Any] = {
    "grant_id": "g_0123abcd",
    "segments": ["labs", "other"],
    "grantee_user_id": "u_doc",
    "grantee_group": None,
    "status": "revoked",
    "not_before": "2026-11-01T00:00:00Z",
    "expires_at": "2027-06-30T00:00:00Z",
    "data_from": None,
    "purpose": "treatment",
    "emergency": False,
    "revoked_at": "2026-12-01T00:00:00Z",
}


def test_a_grant_is_an_r4_consent() -> None:
    consent = grant_consent("u_pat", GRANT)
    Consent.model_validate(consent)
    assert consent["status"] == "inactive"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["provision"]["period"]["end"].startswith("2027-06-30")
    codes = {c["code"] for c in consent["provision"]["class"]}
    assert {"Observation", "DiagnosticReport", "other"} <= codes
    actor = consent["provision"]["actor"][0]["reference"]["identifier"]["value"]
    assert actor == "u_doc"
    group = grant_consent(
        "u_pat",
        GRANT | {"grantee_user_id": None, "grantee_group": {"role": "nurse"}, "status": "active"},
    )
    Consent.model_validate(group)
    assert group["status"] == "active"
    assert group["provision"]["actor"][0]["reference"]["display"] == "role=nurse"


def proof(event: dict[str, Any]) -> InclusionProofOut:
    return InclusionProofOut(
        event_id="7f1c2a54-8d33-4a4e-9d3f-4a9c1e2b3c4d",
        height=3,
        leaf_index=12,
        tree_size=40,
        root_hash="ab" * 32,
        hashes=[],
        event=event,
    )


def test_ledger_events_are_balp_audit_events_and_break_glass_is_marked() -> None:
    read = audit_event(
        "u_pat",
        proof(
            {
                "type": "access.granted",
                "time": "2026-12-01T10:00:00+00:00",
                "source": "srs-1",
                "data": {"requester_id": "u_doc", "record_id": "r_1", "segment": "labs"},
            }
        ),
        40,
    )
    assert read is not None
    AuditEvent.model_validate(read)
    assert read["meta"]["profile"][0].endswith("IHE.BasicAudit.PatientRead")
    assert read["action"] == "R" and "purposeOfEvent" not in read
    glass = audit_event(
        "u_pat",
        proof(
            {
                "type": "access.breakglass",
                "time": "2026-12-01T10:00:00+00:00",
                "source": "user-api",
                "data": {"requester_id": "u_doc", "record_id": "r_1", "reason": "unconscious"},
            }
        ),
        40,
    )
    assert glass is not None
    AuditEvent.model_validate(glass)
    assert glass["purposeOfEvent"][0]["coding"][0]["code"] == "BTG"
    assert glass["purposeOfEvent"][0]["text"] == "unconscious"
    denied = audit_event(
        "u_pat",
        proof(
            {
                "type": "access.denied",
                "time": "2026-12-01T10:00:00+00:00",
                "data": {"reason": "revoked"},
            }
        ),
        40,
    )
    assert denied is not None and denied["outcome"] == "4"
    assert audit_event("u_pat", proof({"type": "key.rotated", "data": {}}), 40) is None


def test_a_searchset_with_withheld_segments_is_r4_and_redacted() -> None:
    entry = {
        "fullUrl": "urn:uuid:5b0c8b8e-2f43-4a6f-9b38-6e1a5b1b2c3d",
        "resource": {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"text": "x"},
        },
        "request": {"method": "POST", "url": "Observation"},
    }
    outcome = withheld_outcome([Withheld("r_1", "conditions", "revoked")])
    self_url, links = page_links(
        "http://gw/fhir/Observation", {"patient": "u_p"}, offset=0, count=1, total=3
    )
    bundle = searchset(
        [match_entry(entry, "http://gw/fhir")],
        self_url=self_url,
        total=3,
        outcome=outcome,
        redacted=True,
        links=links,
    )
    Bundle.model_validate(bundle)
    check_bundle_r4(bundle)
    assert "request" not in bundle["entry"][0]
    assert bundle["meta"]["security"][0]["code"] == "REDACTED"
    assert bundle["entry"][-1]["search"]["mode"] == "outcome"
    assert set(links) == {"first", "next", "last"}
    assert "_offset=2" in links["last"]


def test_a_transaction_gets_ids_and_its_references_resolved() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:a",
                "resource": {
                    "resourceType": "Observation",
                    "subject": {"reference": "Patient/u_p"},
                },
            },
            {
                "fullUrl": "urn:uuid:b",
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "result": [{"reference": "urn:uuid:a"}],
                },
            },
        ],
    }
    locations = assign_ids(bundle)
    oid = bundle["entry"][0]["resource"]["id"]
    assert locations[0] == f"Observation/{oid}"
    assert bundle["entry"][1]["resource"]["result"][0]["reference"] == f"Observation/{oid}"
    assert the_patient(bundle) == "u_p"
    bundle["entry"][1]["resource"]["subject"] = {"reference": "Patient/u_q"}
    with pytest.raises(FhirError) as err:
        the_patient(bundle)
    assert err.value.status == 400

"""Break-glass: emergency access needs a reason, works with one, and the patient sees it.

The patient chose in advance which segments an emergency may open (an emergency grant
to the group ``{role: doctor}``); the group's receiving key is here the doctor's own
(group keys from the KGC are another issue's).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from phr.client import OwnerKeys, encrypt_record
from phr.fhir.segments import segment_for
from phr.sdk.access import AccessDenied, AccessError
from phr.sdk.records import new_record_id
from tests.support.identity import bearer, service_url
from tests.support.records import marked_bundle
from tests.support.sharing import grant, reader, sharing_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_breakglass_needs_a_reason_works_with_one_and_is_shown_to_the_patient(
    stack: Any,
) -> None:
    world = await sharing_world(stack)
    patient, doctor = world.patient, world.doctor
    record = encrypt_record(
        marked_bundle("breakglass"),
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=patient.user.keys.signing,
    )
    record_id = record.manifest.record_id
    async with patient.records() as records:
        await records.upload_encrypted_record(record)
    await grant(
        stack,
        patient,
        None,
        ["conditions", "medications"],
        group={"role": "doctor"},
        receiving_pk=doctor.user.keys.pre.public_key(),
        emergency=True,
    )
    user_api = service_url(stack, "user-api")

    async with httpx.AsyncClient(base_url=user_api, timeout=10) as http:
        for reason in (None, "", "   "):
            r = await http.post(
                "/v1/access",
                json={
                    "patient_id": patient.id,
                    "record_id": record_id,
                    "breakglass": True,
                    "breakglass_reason": reason,
                },
                headers=bearer(doctor.token),
            )
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["detail"] == "break-glass needs a reason"

    async with reader(stack, doctor) as reader_client:
        # without break-glass an emergency grant opens nothing
        async def denied_without_reason() -> bool:
            with pytest.raises(AccessDenied) as denied:
                await reader_client.fetch_record(patient.id, record_id, ["conditions"])
            return denied.value.denied["conditions"] == "break-glass needs a reason"

        assert await eventually(denied_without_reason, timeout=30, interval=0.3)
        with pytest.raises(AccessError) as refused:
            await reader_client.fetch_record(
                patient.id, record_id, ["conditions"], breakglass_reason=" "
            )
        assert refused.value.status == 422

        reason = "unconscious in the emergency room"
        opened = await reader_client.open_record(
            patient.id, record_id, breakglass_reason=reason, validate=False
        )
        assert {
            segment_for(e["resource"]["resourceType"]).value for e in opened.bundle["entry"]
        } == {
            "conditions",
            "medications",
        }
        assert opened.access.breakglass == {
            "reason": reason,
            "segments": ["conditions", "medications"],
        }
        assert all(s.breakglass for s in opened.access.opened.values())

    async with httpx.AsyncClient(base_url=user_api, timeout=10) as http:

        async def shown() -> dict[str, Any] | None:
            r = await http.get(
                "/v1/breakglass", params={"patient_id": patient.id}, headers=bearer(patient.token)
            )
            assert r.status_code == 200, r.text
            hits = [a for a in r.json()["accesses"] if a["request_id"] == opened.access.request_id]
            return hits[0] if hits and len(hits[0]["nodes"]) == 3 else None

        entry = await eventually(shown, timeout=15, interval=0.2)
        assert entry["requester_id"] == doctor.id
        assert entry["record_id"] == record_id
        assert entry["reason"] == reason
        assert entry["segments"] == ["conditions", "medications"]
        assert entry["review"] == "pending"
        assert entry["nodes"] == ["srs-1", "srs-2", "srs-3"]

        # only the patient himself sees his break-glass list
        for token in (doctor.token, world.other_doctor.token):
            r = await http.get(
                "/v1/breakglass", params={"patient_id": patient.id}, headers=bearer(token)
            )
            assert r.status_code == 403

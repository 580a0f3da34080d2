"""The hospital gateway against the running stack, driven by fhirpy as the hospitals' systems.

A lab writes a result into a patient's PHR through its gateway (as a contributor the
patient authorised); the patient's doctor reads it through his own hospital's gateway;
what is withheld is named, and a normal read leaves no access.denied in the trail.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.observation import Observation
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError
from fhirpy.base.exceptions import OperationOutcome as FhirpyOutcome

from phr.fhir.r4 import check_bundle_r4, check_resource_r4
from phr.gateway.consent import fhir_id
from phr.gateway.references import DATA_ABSENT_REASON, USER_SYSTEM, dangling
from phr.sdk.sharing import SharingClient
from tests.support.gateway import (
    Gateway,
    SmartClient,
    approve,
    assert_outcome,
    new_gateway,
    observation_entry,
)
from tests.support.identity import KgcClient, bearer, load_operator, service_url
from tests.support.records import Patient, new_patient
from tests.support.waiting import eventually

# Two gateway processes start in the first test's setup (slow on a loaded machine).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

LOINC_A1C = "http://loinc.org|4548-4"
ROOT = Path(__file__).resolve().parents[2]


def assert_r4_bundle(doc: dict[str, Any], btype: str) -> None:
    """Valid R4 (the models and phr.fhir.r4's stricter checks), of type ``btype``, and
    (a read's answer) no reference in it that its own entries do not resolve."""
    Bundle.model_validate(doc)
    check_bundle_r4(doc)
    assert doc["type"] == btype
    if btype == "searchset":
        links = {link["relation"]: link["url"] for link in doc["link"]}
        assert dangling(doc, links["self"].split("/fhir")[0] + "/fhir") == []


def lab_bundle(
    patient_id: str, *, status: str = "final", values: tuple[float, ...] = (6.1,)
) -> dict[str, Any]:
    entries = []
    refs = []
    for value in values:
        full_url = f"urn:uuid:{uuid.uuid4()}"
        refs.append({"reference": full_url})
        entries.append(
            {
                "fullUrl": full_url,
                "resource": {
                    "resourceType": "Observation",
                    "status": status,
                    "code": {
                        "coding": [
                            {"system": "http://loinc.org", "code": "4548-4", "display": "HbA1c"}
                        ]
                    },
                    "subject": {"reference": f"Patient/{patient_id}"},
                    "effectiveDateTime": "2026-11-30T09:00:00Z",
                    "valueQuantity": {
                        "value": value,
                        "unit": "%",
                        "system": "http://unitsofmeasure.org",
                        "code": "%",
                    },
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    entries.append(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "subject": {"reference": f"Patient/{patient_id}"},
                "result": refs,
            },
            "request": {"method": "POST", "url": "DiagnosticReport"},
        }
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def own_bundle() -> dict[str, Any]:
    """The patient's own record: demographics and a condition."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:8a3c1f00-0000-4000-8000-000000000001",
                "resource": {"resourceType": "Patient", "id": "pat-1", "gender": "female"},
            },
            {
                "fullUrl": "urn:uuid:8a3c1f00-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "Condition",
                    "subject": {"reference": "urn:uuid:8a3c1f00-0000-4000-8000-000000000001"},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                },
            },
        ],
    }


@dataclass
class World:
    patient: Patient
    sharing: SharingClient
    lab: Gateway
    hospital: Gateway
    lis: SmartClient  # the lab's system: writes
    ehr: SmartClient  # the hospital's EHR, acting as the patient's doctor
    kiosk: SmartClient  # a client that may read Patient only
    doctor_id: str
    lab_org: str
    stack: Any
    kgc: KgcClient


@pytest.fixture(scope="module")
async def world(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    base = tmp_path_factory.mktemp("gateways")
    http = httpx.AsyncClient(timeout=30)
    try:
        kgc = KgcClient(http, service_url(stack, "kgc"))
        admin = await kgc.login(load_operator(stack))
        hospital_org = await kgc.create_org(admin, f"St Mary {uuid.uuid4().hex[:6]}", "hospital")
        lab_org = await kgc.create_org(admin, f"City Lab {uuid.uuid4().hex[:6]}", "lab")
        lab = await new_gateway(stack, base / "lab", lab_org, admin, kgc, cli=True)
        hospital = await new_gateway(stack, base / "hospital", hospital_org, admin, kgc)
        doctor_id = await hospital.enrol_staff("doctor", "doctor", hospital_org)
        await approve(kgc, admin, doctor_id)
        lis = lab.register("lis", "system/Observation.rs system/Bundle.c", cli=True)
        ehr = hospital.register(
            "ehr",
            "system/Patient.rs system/Observation.rs system/Condition.rs system/Bundle.c "
            "system/Consent.rs system/AuditEvent.rs",
            act_as=doctor_id,
        )
        kiosk = hospital.register("kiosk", "system/Patient.rs")
        try:
            await lab.start()
            await hospital.start()
        except BaseException:
            lab.stop()
            hospital.stop()
            raise
        patient = await new_patient(stack)

        async def patient_token() -> str:
            return await kgc.login(patient.user)  # a fresh one: the tests outlive a token

        sharing = SharingClient(
            service_url(stack, "owner-api"),
            service_url(stack, "kgc"),
            patient_token,
            patient.user.keys,
            user_id=patient.id,
            master=patient.master,
        )
        try:
            async with sharing:
                await sharing.publish_keys(patient.id)
                async with patient.records() as records:
                    await records.upload_record(own_bundle(), **patient.upload_args())
                    await records.add_contributor(patient.id, lab_org)
                yield World(
                    patient, sharing, lab, hospital, lis, ehr, kiosk, doctor_id, lab_org, stack, kgc
                )
        finally:
            lab.stop()
            hospital.stop()

    finally:
        await http.aclose()  # also when a gateway never started


async def fhir(client: SmartClient, scope: str) -> AsyncFHIRClient:
    return AsyncFHIRClient(
        f"{client.url}/fhir", authorization=f"Bearer {await client.token(scope)}"
    )


async def record_count(world: World) -> int:
    world.patient.token = await world.kgc.login(world.patient.user)
    async with world.patient.records() as records:
        return len(await records.list_records(world.patient.id))


async def test_a_lab_writes_and_the_doctor_reads_through_two_gateways(world: World) -> None:
    pid = world.patient.id
    lis = await fhir(world.lis, "system/Bundle.c")
    before = await record_count(world)

    # What R4 forbids is refused with an OperationOutcome naming the entry; nothing stored.
    with pytest.raises(FhirpyOutcome) as refused:
        await lis.execute("", method="post", data=lab_bundle(pid, status="finalish"))
    issue = refused.value.resource["issue"][0]
    assert issue["expression"] == ["Bundle.entry[0].resource.status"]
    assert await record_count(world) == before

    written = await lis.execute("", method="post", data=lab_bundle(pid, values=(6.1, 6.4)))
    assert_r4_bundle(written, "transaction-response")
    assert [e["response"]["status"] for e in written["entry"]] == ["201 Created"] * 3
    assert written["entry"][0]["response"]["location"].startswith("Observation/")
    assert await record_count(world) == before + 1

    # The hospital is no contributor of this patient: 403, nothing stored.
    ehr_writer = await fhir(world.ehr, "system/Bundle.c")
    with pytest.raises(ForbiddenError) as forbidden:
        await ehr_writer.execute("", method="post", data=lab_bundle(pid))
    assert json.loads(str(forbidden.value))["issue"][0]["code"] == "forbidden"
    assert await record_count(world) == before + 1

    # The patient grants his doctor labs; the doctor's EHR reads through its gateway.
    grant = await world.sharing.grant_user(pid, world.doctor_id, ["labs"], purpose="treatment")
    ehr = await fhir(world.ehr, "system/Patient.rs system/Observation.rs")

    async def search() -> dict[str, Any] | None:  # user-api learns of the grant from its event
        got = await ehr.resources("Observation").search(patient=pid, code=LOINC_A1C).fetch_raw()
        return got if got.get("entry") else None

    found = await eventually(search, timeout=30, interval=0.5)
    assert found is not None
    assert_r4_bundle(found, "searchset")
    values = sorted(e["resource"]["valueQuantity"]["value"] for e in found["entry"])
    assert values == [6.1, 6.4]
    assert {e["search"]["mode"] for e in found["entry"]} == {"match"}
    # The Patient is not granted: the subject is a logical reference, not a dangling link.
    subjects = [e["resource"]["subject"] for e in found["entry"]]
    assert (
        subjects == [{"type": "Patient", "identifier": {"system": USER_SYSTEM, "value": pid}}] * 2
    )
    # A code without its system finds the same (LOINC is one of the index's systems).
    bare = await ehr.resources("Observation").search(patient=pid, code="4548-4").fetch_raw()
    assert_r4_bundle(bare, "searchset")
    assert sorted(e["fullUrl"] for e in bare["entry"]) == sorted(
        e["fullUrl"] for e in found["entry"]
    )

    paged = (
        await ehr.resources("Observation").search(patient=pid, code=LOINC_A1C).limit(1).fetch_raw()
    )
    assert paged["total"] == 2 and len(paged["entry"]) == 1
    nxt = next(link["url"] for link in paged["link"] if link["relation"] == "next")
    token = await world.ehr.token("system/Observation.rs")
    async with httpx.AsyncClient(timeout=60) as http:
        second = (await http.get(nxt, headers=bearer(token))).json()
    assert_r4_bundle(second, "searchset")
    assert second["entry"][0]["fullUrl"] != paged["entry"][0]["fullUrl"]

    everything = await ehr.execute(f"Patient/{pid}/$everything", method="get")
    assert_r4_bundle(everything, "searchset")
    kinds = sorted(e["resource"]["resourceType"] for e in everything["entry"])
    # The token holds Patient and Observation scopes: the DiagnosticReport is left out.
    assert kinds == ["Observation", "Observation", "OperationOutcome"]
    outcome = everything["entry"][-1]
    assert outcome["search"]["mode"] == "outcome"
    issues = outcome["resource"]["issue"]
    withheld = {i["diagnostics"].split()[1]: i["details"]["text"] for i in issues if "details" in i}
    assert withheld == {"demographics": "not-granted", "conditions": "not-granted"}
    assert any(
        "DiagnosticReport" in i["diagnostics"] and "scopes" in i["diagnostics"] for i in issues
    )
    assert everything["meta"]["security"][0]["code"] == "REDACTED"

    # With demographics granted too, the Patient comes back.
    await world.sharing.grant_user(pid, world.doctor_id, ["demographics"], purpose="treatment")

    async def with_patient() -> bool:  # user-api learns of the grant from its event
        found = await ehr.execute(f"Patient/{pid}/$everything", method="get")
        return "Patient" in {e["resource"]["resourceType"] for e in found["entry"]}

    await eventually(with_patient, timeout=30, interval=0.5)

    # Reads asked only for granted segments: no access.denied in the patient's trail.
    trail = await eventually(lambda: doctor_events(world, "granted"), timeout=30, interval=0.5)
    assert trail
    assert await doctor_events(world, "denied") == []

    # The grant is an active Consent; the trail shows the doctor's reads, verified.
    consent = await fhir(world.ehr, "system/Consent.rs system/AuditEvent.rs")
    consents = await consent.resources("Consent").search(patient=pid).fetch_raw()
    assert_r4_bundle(consents, "searchset")
    by_grant = {c["resource"]["identifier"][0]["value"]: c["resource"] for c in consents["entry"]}
    assert by_grant[grant.grant_id]["status"] == "active"
    classes = {c["code"] for c in by_grant[grant.grant_id]["provision"]["class"]}
    assert {"Observation", "DiagnosticReport"} <= classes
    assert by_grant[grant.grant_id]["provision"]["purpose"][0]["code"] == "TREAT"
    events = await consent.resources("AuditEvent").search(patient=pid).fetch_raw()
    assert_r4_bundle(events, "searchset")
    reads = [
        e["resource"]
        for e in events["entry"]
        if e["resource"]["meta"]["profile"][0].endswith("PatientRead")
    ]
    assert reads and all(
        r["agent"][0]["who"]["identifier"]["value"] == world.doctor_id for r in reads
    )
    assert all(
        {"type": "verified-inclusion", "valueString": "true"} in r["entity"][-1]["detail"]
        for r in reads
    )

    # After revocation the labs are withheld, and say why; the Consent is inactive.
    await world.sharing.revoke(pid, grant.grant_id)
    everything = await ehr.execute(f"Patient/{pid}/$everything", method="get")
    assert_r4_bundle(everything, "searchset")

    async def labs_revoked() -> bool:
        found = await ehr.execute(f"Patient/{pid}/$everything", method="get")
        assert_r4_bundle(found, "searchset")
        issues = found["entry"][-1]["resource"]["issue"]
        return any(
            "labs" in i["diagnostics"] and i.get("details", {}).get("text") == "revoked"
            for i in issues
        )

    await eventually(labs_revoked, timeout=30, interval=0.5)

    async def revoked() -> bool:
        found = await consent.resources("Consent").search(patient=pid).fetch_raw()
        assert_r4_bundle(found, "searchset")
        status = {
            c["resource"]["identifier"][0]["value"]: c["resource"]["status"] for c in found["entry"]
        }
        return status[grant.grant_id] == "inactive"

    await eventually(revoked, timeout=30, interval=0.5)


async def test_batches_per_entry_reads_by_id_and_deleted_records(world: World) -> None:
    """A batch stores its good entries and answers each bad one alone; what was stored is
    read by id (ETag, versionId), its references to what is withheld masked; a record
    the patient deleted answers 410."""
    pid = world.patient.id
    before = await record_count(world)
    first, second = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    report = f"urn:uuid:{uuid.uuid4()}"
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            observation_entry(pid, first, specimen={"reference": "Specimen/not-served"}),
            observation_entry(pid, second, status="finalish"),
            {
                "fullUrl": report,
                "resource": {
                    "resourceType": "DiagnosticReport",
                    "status": "final",
                    "code": {"text": "glucose"},
                    "subject": {"reference": f"Patient/{pid}"},
                    "result": [{"reference": first}],
                },
                "request": {"method": "POST", "url": "DiagnosticReport"},
            },
            observation_entry("u-nobody-" + uuid.uuid4().hex[:8], f"urn:uuid:{uuid.uuid4()}"),
        ],
    }
    lis_token = await world.lis.token("system/Bundle.c")
    async with httpx.AsyncClient(timeout=120) as http:
        resp = await http.post(
            f"{world.lab.url}/fhir",
            content=json.dumps(batch),
            headers={
                **bearer(lis_token),
                "Content-Type": "application/fhir+json",
                "Prefer": "return=representation",
            },
        )
        assert resp.status_code == 200, resp.text
        assert resp.headers["content-type"].startswith("application/fhir+json")
        answer = resp.json()
        assert_r4_bundle(answer, "batch-response")
        statuses = [e["response"]["status"] for e in answer["entry"]]
        assert statuses == ["201 Created", "400 Bad Request", "400 Bad Request", "404 Not Found"]
        bad = answer["entry"][1]["response"]["outcome"]["issue"][0]
        assert bad["expression"] == ["Bundle.entry[1].resource.status"]
        linked = answer["entry"][2]["response"]["outcome"]["issue"][0]
        assert "transaction" in linked["diagnostics"]
        stored = answer["entry"][0]
        assert stored["resource"]["meta"]["versionId"] == "1"
        assert stored["response"]["etag"] == 'W/"1"'
        assert await record_count(world) == before + 1  # the good entry alone, once
        record_id = answer["identifier"]["value"]

        # Not JSON: 415; a type the server has no route for, a method it has not: OperationOutcomes.
        assert_outcome(
            await http.post(
                f"{world.lab.url}/fhir",
                content=b"<Bundle/>",
                headers={**bearer(lis_token), "Content-Type": "application/fhir+xml"},
            ),
            415,
            "not-supported",
        )
        assert_outcome(await http.delete(f"{world.lab.url}/fhir/metadata"), 405, "not-supported")

        grant = await world.sharing.grant_user(pid, world.doctor_id, ["labs"], purpose="care")
        token = await world.ehr.token(
            "system/Observation.rs system/Consent.rs system/AuditEvent.rs"
        )
        ehr = AsyncFHIRClient(f"{world.hospital.url}/fhir", authorization=f"Bearer {token}")

        async def search() -> dict[str, Any] | None:  # user-api learns of the grant from its event
            got = await ehr.resources("Observation").search(patient=pid, code="2345-7").fetch_raw()
            return got if got.get("entry") else None

        found = await eventually(search, timeout=30, interval=0.5)
        assert found is not None
        assert_r4_bundle(found, "searchset")
        (match,) = found["entry"]
        oid = match["resource"]["id"]
        assert match["fullUrl"] == f"{world.hospital.url}/fhir/Observation/{oid}"
        masked = match["resource"]["specimen"]
        assert masked["extension"] == [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]
        assert "reference" not in masked

        read = await http.get(match["fullUrl"], headers=bearer(token))
        assert read.status_code == 200, read.text
        assert read.headers["content-type"].startswith("application/fhir+json")
        assert read.headers["etag"] == 'W/"1"'
        resource = read.json()
        Observation.model_validate(resource)
        check_resource_r4(resource)
        assert resource["id"] == oid and resource["meta"]["versionId"] == "1"
        assert resource["subject"]["identifier"]["value"] == pid
        fhirpy_read = await ehr.reference("Observation", oid).to_resource()
        assert fhirpy_read["valueQuantity"]["value"] == 5.4

        missing = await http.get(
            f"{world.hospital.url}/fhir/Observation/no-such-{oid[:8]}", headers=bearer(token)
        )
        assert_outcome(missing, 404, "not-found")
        xml = await http.get(match["fullUrl"], params={"_format": "xml"}, headers=bearer(token))
        assert_outcome(xml, 406, "not-supported")

        consent_url = f"{world.hospital.url}/fhir/Consent/{fhir_id(grant.grant_id)}"
        consent = await http.get(consent_url, headers=bearer(token))
        assert consent.status_code == 200, consent.text
        Consent.model_validate(consent.json())
        assert consent.json()["status"] == "active"
        events = await ehr.resources("AuditEvent").search(patient=pid).fetch_raw()
        assert_r4_bundle(events, "searchset")
        event_url = events["entry"][0]["fullUrl"]
        event = await http.get(event_url, headers=bearer(token))
        assert event.status_code == 200, event.text
        assert event.json()["id"] == events["entry"][0]["resource"]["id"]

        # The patient deletes the record: its resources are gone (410), not unknown.
        world.patient.token = await world.kgc.login(world.patient.user)
        async with world.patient.records() as records:
            await records.delete_record(pid, record_id)
        gone = await http.get(match["fullUrl"], headers=bearer(token))
        assert_outcome(gone, 410, "deleted")
        await world.sharing.revoke(pid, grant.grant_id)


async def doctor_events(world: World, kind: str) -> list[dict[str, Any]]:
    """The doctor's access decisions in the patient's trail: ``granted`` or ``denied``
    (one ``access.decided`` per node and request, or the older per-segment events)."""
    token = await world.kgc.login(world.patient.user)
    resp = await world.kgc.http.get(
        f"{service_url(world.stack, 'ledger')}/v1/audit/{world.patient.id}", headers=bearer(token)
    )
    assert resp.status_code == 200, resp.text
    out = []
    for proof in resp.json()["entries"]:
        event = proof["event"]
        data = event["data"]
        if data.get("requester_id") != world.doctor_id:
            continue
        if event["type"] == f"access.{kind}" or (
            event["type"] == "access.decided" and data.get(kind)
        ):
            out.append(event)
    return out


async def test_clients_without_the_scope_or_a_token_are_refused(world: World) -> None:
    pid = world.patient.id
    kiosk = await fhir(world.kiosk, "system/Patient.rs")
    with pytest.raises(ForbiddenError) as refused:
        await kiosk.execute("", method="post", data=lab_bundle(pid))
    assert json.loads(str(refused.value))["issue"][0]["code"] == "forbidden"
    scope = await world.kiosk.token_response("system/Bundle.c")
    assert (scope.status_code, scope.json()["error"]) == (400, "invalid_scope")
    async with httpx.AsyncClient(timeout=30) as http:
        anonymous = await http.get(f"{world.hospital.url}/fhir/Patient/{pid}/$everything")
    assert anonymous.status_code == 401
    assert anonymous.json()["resourceType"] == "OperationOutcome"


def shell_block(page: Path, heading: str) -> str:
    """The first ```sh block after ``heading`` in a Markdown page."""
    text = page.read_text()
    after = text[text.index(heading) :]
    start = after.index("```sh\n") + len("```sh\n")
    return after[start : after.index("\n```", start)]


async def test_the_integrator_page_curl_examples(world: World, tmp_path: Path) -> None:
    """docs/gateway.md's shell examples, run as written against the lab's gateway."""
    script = shell_block(ROOT / "docs" / "gateway.md", "## From a shell")
    (tmp_path / "lis.jwk").write_text(json.dumps(world.lis.key))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PHR_")},
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GW": world.lab.url,
        "PATIENT": world.patient.id,
    }
    proc = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:-1] == [
        "4.0.1",
        f"{world.lab.url}/auth/token",
        "201 Created",
        "searchset",
        "401",
    ]

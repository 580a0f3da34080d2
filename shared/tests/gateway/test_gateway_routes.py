"""The gateway's routes against its CapabilityStatement, and its FHIR conventions
(OperationOutcomes from the framework, batches per entry, masked references, codes)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fhir.resources.R4B.bundle import Bundle

from phr.fhir.r4 import check_bundle_r4
from phr.gateway import writes
from phr.gateway.app import GatewayConfig, create_app
from phr.gateway.bundles import match_entry
from phr.gateway.byid import READABLE
from phr.gateway.identity import Cloud
from phr.gateway.outcome import FhirError
from phr.gateway.references import (
    DATA_ABSENT_REASON,
    USER_SYSTEM,
    dangling,
    localise,
    mask_dangling,
)
from phr.gateway.search import has_code, keywords, parse_codes
from phr.gateway.state import Caller
from tests.support.gateway import assert_outcome, observation_entry

BASE = "http://gw.test"


@asynccontextmanager
async def no_cloud() -> AsyncIterator[Cloud | None]:
    yield None


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(GatewayConfig(home=tmp_path, base_url=BASE), cloud=no_cloud)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield app, http


def _claims_of_routes(app: Any) -> set[tuple[str, str]]:
    """(type or "*", interaction) that the app's /fhir routes serve (from its OpenAPI)."""
    out: set[tuple[str, str]] = set()
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/fhir") or path == "/fhir/metadata" or ".well-known" in path:
            continue
        methods = {m.upper() for m in operations}
        if path == "/fhir" and methods == {"POST"}:
            out |= {("*", "transaction"), ("*", "batch")}
        elif (m := re.fullmatch(r"/fhir/([A-Z]\w+)/\{\w+\}/\$(\w+)", path)) and methods == {"GET"}:
            out.add((m[1], f"${m[2]}"))
        elif (m := re.fullmatch(r"/fhir/([A-Z]\w+)", path)) and methods == {"GET"}:
            out.add((m[1], "search-type"))
        elif path == "/fhir/{rtype}/{rid}" and methods == {"GET"}:
            out |= {(t, "read") for t in READABLE}
        else:
            raise AssertionError(f"a /fhir route the test does not know: {path} {methods}")
    return out


def _claims_of_statement(statement: dict[str, Any]) -> set[tuple[str, str]]:
    rest = statement["rest"][0]
    out = {("*", i["code"]) for i in rest.get("interaction", [])}
    for resource in rest["resource"]:
        out |= {(resource["type"], i["code"]) for i in resource.get("interaction", [])}
        out |= {(resource["type"], f"${o['name']}") for o in resource.get("operation", [])}
    return out


async def test_the_capability_statement_lists_exactly_the_routes(
    gateway: tuple[Any, httpx.AsyncClient],
) -> None:
    app, http = gateway
    statement = (await http.get("/fhir/metadata")).json()
    claims = _claims_of_statement(statement)
    assert claims == _claims_of_routes(app)
    types = [r["type"] for r in statement["rest"][0]["resource"]]
    assert types == sorted(set(types))  # one entry per type
    # Each claim answers (asks for a login), and what is not claimed is not found.
    for rtype, interaction in sorted(claims):
        path = {
            "read": f"/fhir/{rtype}/x1",
            "search-type": f"/fhir/{rtype}?patient=u_1&code=1",
            "$everything": f"/fhir/{rtype}/u_1/$everything",
        }.get(interaction)
        if path is not None:
            assert_outcome(await http.get(path), 401, "login")
    assert_outcome(await http.post("/fhir", json={}), 401, "login")
    assert_outcome(await http.get("/fhir/Basic/x1"), 404, "not-supported")
    assert_outcome(await http.get("/fhir/DiagnosticReport?patient=u_1"), 404, "not-found")
    searches = {r["type"] for r in statement["rest"][0]["resource"] if "searchParam" in r}
    assert searches == {t for t, i in claims if i == "search-type"}


async def test_framework_errors_are_operation_outcomes(
    gateway: tuple[Any, httpx.AsyncClient],
) -> None:
    _, http = gateway
    assert_outcome(await http.get("/fhir/a/b/c/d"), 404, "not-found")
    refused = assert_outcome(await http.delete("/fhir/metadata"), 405, "not-supported")
    assert refused["resourceType"] == "OperationOutcome"
    assert "GET" in (await http.delete("/fhir/metadata")).headers["allow"]
    assert_outcome(
        await http.get("/fhir/metadata", params={"_format": "xml"}), 406, "not-supported"
    )
    accept = await http.get("/fhir/metadata", headers={"Accept": "application/fhir+xml"})
    assert_outcome(accept, 406, "not-supported")
    ok = await http.get("/fhir/metadata", params={"_format": "application/fhir+json"})
    assert ok.headers["content-type"].startswith("application/fhir+json")


async def test_a_batch_is_processed_per_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    stored: dict[str, list[dict[str, Any]]] = {}

    async def store(caller: Caller, pid: str, bundle: dict[str, Any]) -> str:
        if pid == "u_refuses":
            raise FhirError(403, "forbidden", "not a contributor")
        stored[pid] = bundle["entry"]
        return f"r_{len(stored)}"

    monkeypatch.setattr(writes, "store", store)
    first = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            observation_entry("u_a", first),
            observation_entry("u_a", f"urn:uuid:{uuid.uuid4()}", status="finalish"),
            observation_entry("u_b", f"urn:uuid:{uuid.uuid4()}", hasMember=[{"reference": first}]),
            observation_entry("u_refuses", f"urn:uuid:{uuid.uuid4()}"),
            observation_entry("u_b", first),  # a repeated fullUrl
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": observation_entry("u_a", "x")["resource"],
            },
            observation_entry("u_b", f"urn:uuid:{uuid.uuid4()}")
            | {"request": {"method": "GET", "url": "x"}},
            observation_entry("u_c", f"urn:uuid:{uuid.uuid4()}"),
        ],
    }
    caller = cast(Caller, SimpleNamespace(base_url=BASE))
    entries, records = await writes._batch(caller, bundle, "minimal")
    statuses = [e["response"]["status"].split()[0] for e in entries]
    assert statuses == ["201", "400", "400", "403", "400", "400", "400", "201"]
    assert records == ["r_1", "r_2"] and set(stored) == {"u_a", "u_c"}
    assert [len(v) for v in stored.values()] == [1, 1]
    where = [
        e["response"].get("outcome", {}).get("issue", [{}])[0].get("expression") for e in entries
    ]
    assert where[1] == ["Bundle.entry[1].resource.status"]
    assert where[4] == ["Bundle.entry[4].fullUrl"] and where[5] == ["Bundle.entry[5].request"]
    response = {"resourceType": "Bundle", "type": "batch-response", "entry": entries}
    Bundle.model_validate(response)
    check_bundle_r4(response)
    assert entries[0]["response"]["location"].startswith("Observation/")

    # A transaction is all or nothing: one bad entry, and nothing is stored.
    stored.clear()
    txn = {"resourceType": "Bundle", "type": "transaction", "entry": bundle["entry"][:2]}
    with pytest.raises(FhirError) as refused:
        await writes._transaction(caller, txn, "minimal")
    assert refused.value.status == 400 and stored == {}


def test_references_to_what_is_not_served_are_masked() -> None:
    base = f"{BASE}/fhir"
    entries = [
        {
            "fullUrl": f"{base}/Observation/o1",
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"text": "x"},
                "subject": {"reference": "Patient/u_p"},
                "performer": [{"reference": "Practitioner/pr1", "display": "Dr Who"}],
                "hasMember": [
                    {"reference": "Observation/o2"},
                    {"reference": f"{base}/Observation/o2"},
                    {"reference": "urn:uuid:gone"},
                    {"reference": "https://elsewhere.example/fhir/Patient/1"},
                ],
                "derivedFrom": [{"reference": "#contained"}],
            },
        },
        {
            "fullUrl": "urn:uuid:o2",
            "resource": {
                "resourceType": "Observation",
                "id": "o2",
                "status": "final",
                "code": {"text": "y"},
                "subject": {"reference": "Patient/someone-else"},
            },
        },
    ]
    visible = {"Observation/o1", "Observation/o2", f"{base}/Observation/o2", "urn:uuid:o2"}
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    assert "Practitioner/pr1" in dangling(bundle, base)
    assert mask_dangling(entries, visible, base, "u_p") == 4
    first = entries[0]["resource"]
    assert first["subject"] == {
        "type": "Patient",
        "identifier": {"system": USER_SYSTEM, "value": "u_p"},
    }
    assert first["performer"][0] == {
        "extension": [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}],
        "display": "withheld from this client",
        "type": "Practitioner",
    }
    members = [m.get("reference") for m in first["hasMember"]]
    assert members == [
        "Observation/o2",
        f"{base}/Observation/o2",
        None,
        "https://elsewhere.example/fhir/Patient/1",
    ]
    assert entries[1]["resource"]["subject"]["extension"][0]["valueCode"] == "masked"
    Bundle.model_validate(bundle)
    assert dangling(bundle, base) == ["https://elsewhere.example/fhir/Patient/1"]


def test_uploaded_urn_references_become_restful_ones() -> None:
    patient = {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p1"}}
    condition = {
        "fullUrl": "urn:uuid:c",
        "resource": {
            "resourceType": "Condition",
            "subject": {"reference": "urn:uuid:p"},
            "evidence": [{"detail": [{"reference": "urn:uuid:elsewhere"}]}],
        },
    }
    localise([patient, condition])
    assert condition["resource"]["subject"] == {"reference": "Patient/p1"}
    assert condition["resource"]["evidence"][0]["detail"][0] == {"reference": "urn:uuid:elsewhere"}
    assert match_entry(patient, f"{BASE}/fhir")["fullUrl"] == f"{BASE}/fhir/Patient/p1"
    assert match_entry(condition, f"{BASE}/fhir")["fullUrl"] == "urn:uuid:c"


def test_codes_with_or_without_a_system() -> None:
    assert parse_codes("http://loinc.org|4548-4,718-7") == [
        ("http://loinc.org", "4548-4"),
        (None, "718-7"),
    ]
    assert "loinc:718-7" in keywords([(None, "718-7")])
    assert "snomed:718-7" in keywords([(None, "718-7")])
    assert keywords([("http://loinc.org", "4548-4")]) == ["loinc:4548-4"]
    for bad in ("|", "http://loinc.org|", ",", ",".join(["1"] * 11)):
        with pytest.raises(FhirError):
            parse_codes(bad)
    resource = {"code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]}}
    assert has_code(resource, "code", [(None, "4548-4")])
    assert not has_code(resource, "code", [("http://snomed.info/sct", "4548-4")])

"""A bounded schemathesis run against each service's own OpenAPI document: 0 server errors.

Schemathesis (the ecosystem's property-based API tester, a locked dev dependency) reads
``/openapi.json`` from the running process and, for every operation, sends requests its
schema allows (positive) and requests it forbids (negative), each with a real token of a
patient (of a service for cloud-store, which admits services only). Any 5xx fails, with
the curl command that reproduces it. The run is bounded per service (cases per operation
and mode, and a time budget), and derandomised so a failure reproduces.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode

from phr.identity.tokens import AUDIENCES, TokenSigner
from tests.support.identity import KgcClient, bearer, service_url
from tests.support.sharing import key_of

pytestmark = pytest.mark.e2e

#: one process of each service (the SRS nodes and ledger replicas run the same code)
SERVICES = ("kgc", "owner-api", "user-api", "srs-1", "ledger", "cloud-store")
CASES_PER_MODE = 4
BUDGET_S = 25.0


def fuzz(url: str, headers: dict[str, str]) -> tuple[dict[int, int], list[str]]:
    """(responses by status, a curl line + answer for each 5xx) of one service's run."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    seen: dict[int, int] = {}
    errors: list[str] = []
    deadline = time.monotonic() + BUDGET_S

    def send(case: Case[Any]) -> None:
        if time.monotonic() > deadline:
            return
        response = case.call(headers=headers, timeout=30)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            errors.append(f"{case.as_curl_command(headers)} -> {response.text[:300]}")

    for operation in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.ok().as_strategy(generation_mode=mode)  # type: ignore[union-attr]
            run = settings(
                max_examples=CASES_PER_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(given(case=strategy)(send))
            run()
    return seen, errors


@pytest.mark.parametrize("name", SERVICES)
async def test_no_request_makes_a_service_fail(stack: Any, kgc: KgcClient, name: str) -> None:
    if name == "cloud-store":  # only services call it: a user's token is refused there
        token = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service(
            "cloud-store", ttl_s=600
        )
    else:  # a real patient, with a token outliving the run
        patient = await kgc.enrol("patient")
        token = TokenSigner(key_of(stack, "kgc"), "kgc").mint(
            subject=patient.user_id,
            role="patient",
            ttl_s=600,
            audience=AUDIENCES,
            key_fp=patient.keys.signing.verify_key.fingerprint(),
        )
    seen, errors = fuzz(service_url(stack, name), bearer(token))
    assert not errors, "\n".join(errors[:10])
    assert sum(seen.values()) >= 20, seen  # it really ran
    assert any(200 <= status < 300 for status in seen), seen  # and was let in


#: ids at the edges of the one id pattern (phr.api.ids): user-api accepts them all
EDGE_IDS = ("0", "x" * 64, "a.b", "A-_.", "u_" + "9" * 62, "a..", "Z-")


async def test_ids_user_api_accepts_never_fail_at_owner_api(
    stack: Any, kgc: KgcClient, operator_token: str, hospital: str
) -> None:
    """L4 (issue 19): an id user-api lets through and owner-api refuses gave 500. Every
    id at the pattern's edges, as a staff caller (whom user-api takes to owner-api and
    cloud-store), gets a client error, never a server error."""
    doctor = await kgc.staff(operator_token, "doctor", hospital)
    headers = bearer(await kgc.login(doctor, ("user-api", "srs")))
    base = service_url(stack, "user-api")
    answers: dict[tuple[str, str], int] = {}
    for pid in EDGE_IDS:
        calls = {
            "shared": kgc.http.get(
                f"{base}/v1/shared", params={"patient_id": pid}, headers=headers
            ),
            "shared-of": kgc.http.get(f"{base}/v1/shared/{pid}", headers=headers),
            "search": kgc.http.post(
                f"{base}/v1/search",
                json={"trapdoors": ["0" * 64], "patient_id": pid},
                headers=headers,
            ),
            "access": kgc.http.post(
                f"{base}/v1/access", json={"patient_id": pid, "record_id": pid}, headers=headers
            ),
        }
        for route, call in calls.items():
            r = await call
            answers[(route, pid)] = r.status_code
            assert r.status_code < 500, (route, pid, r.text)
            if r.status_code >= 400:
                assert r.headers["content-type"] == "application/problem+json", (route, pid)
    # and ids outside the pattern are refused by user-api itself, before any upstream
    for bad in ("x" * 65, "-a", ".a", "a b", "a/b"):
        r = await kgc.http.post(
            f"{base}/v1/access", json={"patient_id": bad, "record_id": "r1"}, headers=headers
        )
        assert r.status_code == 422, (bad, r.text)
    assert any(status == 200 for status in answers.values()), answers

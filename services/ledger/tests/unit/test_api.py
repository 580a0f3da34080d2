"""The ledger's routes in-process: its real app over a sealed memory chain (no servers).

Each route's happy path, a refused caller and a bad query; what is served verifies
offline with ``phr.ledger.verify`` as an auditor's CLI does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from ledger.deps import LedgerState
from ledger.main import create_app
from ledger.reader import LedgerReader
from ledger.sequencer import SeqRecord, Sequencer
from ledger.settings import Settings
from ledger.store import MemoryStore
from phr.crypto.signing import SigningKey
from phr.identity.tokens import TokenSigner
from phr.ledger.verify import verify_checkpoint, verify_inclusion
from phr.ledger.wire import InclusionProofOut
from phr.service.state import AppState
from tests.support.asgi import asgi_client, auth_header, test_authenticator, user_token

from .conftest import SIGNER, cut
from .test_sequencer import ORIGIN, event, intake

KGC = SigningKey.generate()
OWNER_API = SigningKey.generate()
EVENTS = 8  # subjects patient-0 … patient-4


@dataclass
class Ledger:
    http: httpx.AsyncClient
    store: MemoryStore
    event_ids: list[str]

    def patient(self, n: int) -> dict[str, str]:
        return auth_header(user_token(KGC, f"patient-{n}", "patient"))

    def auditor(self) -> dict[str, str]:
        return auth_header(user_token(KGC, "u_audit", "auditor"))

    def service(self) -> dict[str, str]:
        return auth_header(TokenSigner(OWNER_API, "owner-api").mint_service("ledger"))


@pytest.fixture
async def ledger() -> AsyncIterator[Ledger]:
    store = MemoryStore()
    sequencer = Sequencer(store, SIGNER, 4)
    await sequencer.load()
    values = [event(i).to_json_bytes() for i in range(EVENTS)] + [cut(1).to_json_bytes()]
    records = [SeqRecord(i, v) for i, v in enumerate(values)]
    await sequencer.apply(records, await intake().check(values))
    state = LedgerState(reader=LedgerReader(store, SIGNER, ORIGIN), sequencer=sequencer)
    auth = test_authenticator("ledger", KGC, SigningKey.generate(), {"owner-api": OWNER_API})
    async with asgi_client(create_app(Settings()), AppState(state, authenticator=auth)) as http:
        ids = [e.event_id for _, e in sorted(store.leaves.items())]
        yield Ledger(http, store, ids)


async def test_the_chain_is_served_block_by_block(ledger: Ledger) -> None:
    head = await ledger.http.get("/v1/head", headers=ledger.patient(1))
    assert head.status_code == 200, head.text
    assert head.json()["log_size"] == EVENTS and head.json()["height"] == 1
    block = await ledger.http.get("/v1/blocks/0", headers=ledger.patient(1))
    assert block.status_code == 200, block.text
    assert block.json()["header"]["count"] == 4
    listed = await ledger.http.get("/v1/blocks", params={"limit": 5}, headers=ledger.patient(1))
    assert [b["header"]["height"] for b in listed.json()] == [0, 1]


async def test_a_patient_reads_his_events_with_proofs_that_verify(ledger: Ledger) -> None:
    r = await ledger.http.get("/v1/checkpoint", headers=ledger.patient(1))
    assert r.status_code == 200, r.text
    checkpoint = verify_checkpoint(r.text, ORIGIN, SIGNER.public)
    assert checkpoint.size == EVENTS
    trail = await ledger.http.get("/v1/audit/patient-1", headers=ledger.patient(1))
    assert trail.status_code == 200, trail.text
    entries = trail.json()["entries"]
    assert entries and {e["event"]["subject"] for e in entries} == {"patient-1"}
    for entry in entries:
        verify_inclusion(InclusionProofOut.model_validate(entry), checkpoint)
    event_id = entries[0]["event_id"]
    proof = await ledger.http.get(
        "/v1/proofs/inclusion", params={"event_id": event_id}, headers=ledger.patient(1)
    )
    assert proof.status_code == 200, proof.text
    verify_inclusion(InclusionProofOut.model_validate(proof.json()), checkpoint)


async def test_another_patient_or_nobody_may_not_read_them(ledger: Ledger) -> None:
    trail = await ledger.http.get("/v1/audit/patient-1", headers=ledger.patient(2))
    assert trail.status_code == 403, trail.text
    assert trail.headers["content-type"] == "application/problem+json"
    event_id = ledger.event_ids[1]  # event(1): about patient-1
    for headers, status in (({}, 401), (ledger.patient(2), 403)):
        r = await ledger.http.get(f"/v1/events/{event_id}", headers=headers)
        assert r.status_code == status, r.text
    assert (await ledger.http.get(f"/v1/events/{event_id}", headers=ledger.patient(1))).is_success


async def test_only_auditors_and_services_verify_the_whole_chain(ledger: Ledger) -> None:
    for headers in (ledger.auditor(), ledger.service()):
        r = await ledger.http.get("/v1/verify", headers=headers)
        assert r.status_code == 200, r.text
    assert (await ledger.http.get("/v1/verify", headers=ledger.patient(1))).status_code == 403
    assert (await ledger.http.get("/v1/verify")).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/v1/blocks/-1",
        "/v1/blocks/99999999999999999999",
        "/v1/blocks?limit=0",
        "/v1/proofs/consistency?first=x",
        "/v1/events?limit=100000",
    ],
)
async def test_bad_queries_are_refused_with_a_problem(ledger: Ledger, path: str) -> None:
    r = await ledger.http.get(path, headers=ledger.auditor())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"

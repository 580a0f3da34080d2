"""The ledger end to end: replicas agree byte for byte, forgeries stay out, proofs verify."""

from __future__ import annotations

import base64
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.cli.ledger import verify_ledger
from phr.crypto.signing import SigningKey
from phr.events.access import AccessRequested
from phr.events.catalog import spec_for
from phr.ledger.verify import verify_checkpoint, verify_consistency, verify_inclusion
from phr.ledger.wire import AuditTrailOut, ConsistencyProofOut, InclusionProofOut
from phr.service.problems import PROBLEM_JSON
from tests.support.identity import KgcClient, bearer
from tests.support.ledger import (
    LEDGER_DBS,
    chain_from_db,
    head,
    ledger_urls,
    make_events,
    producer_key,
    publish,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_replicas_build_identical_chains_and_reject_forgeries(
    stack: Any, auditor_token: str
) -> None:
    admin = {"Authorization": f"Bearer {auditor_token}"}
    key = producer_key(stack)
    tag = f"chain{uuid4().hex[:8]}"
    events = make_events(key, 300, 7, tag)
    good = events[0]
    forged = [
        good.model_copy(update={"id": events[1].id, "signature": good.signature}),  # bad sig
        make_events(SigningKey.generate(), 1, 1, tag + "x")[0],  # unknown producer
        make_events(key, 1, 1, tag)[0].model_copy(update={"id": good.id}),  # replayed id
    ]
    forged[2] = forged[2].model_copy(update={"signature": good.signature})
    await publish(stack.kafka_bootstrap, [*events, *forged, b"{not an envelope"])
    # The replayed id also arrives re-signed by its producer: still included only once.
    await publish(stack.kafka_bootstrap, [good])
    urls = ledger_urls(stack)

    async def sealed() -> bool:
        async with httpx.AsyncClient(timeout=60) as client:
            for url in urls:
                trail = [
                    (await client.get(f"{url}/v1/audit/{tag}-{s}", headers=admin)).json()
                    for s in range(7)
                ]
                if sum(len(t["entries"]) for t in trail) != 300:
                    return False
        return True

    await eventually(sealed, timeout=60, interval=0.5)
    heads = [await head(u) for u in urls]
    upto = min(h["height"] for h in heads) + 1
    a = await chain_from_db(stack, LEDGER_DBS[0], upto)
    b = await chain_from_db(stack, LEDGER_DBS[1], upto)
    assert a == b and len(a) == upto  # same header bytes, same signatures

    async with httpx.AsyncClient(timeout=60) as client:
        url = urls[0]
        for bad in forged[:2]:
            r = await client.get(
                f"{url}/v1/proofs/inclusion", params={"event_id": str(bad.id)}, headers=admin
            )
            assert r.status_code == 404 or r.json()["event"]["signature"] != bad.signature
        r = await client.get(f"{url}/v1/events/{good.id}", headers=admin)
        assert r.json()["data"] == good.data and r.json()["signature"] == good.signature
        assert (await head(url))["rejected"] >= 3

        info = (await client.get(f"{url}/v1/key")).json()
        pub = SigningKey.from_seed(
            bytes.fromhex(stack.signing_key_file("ledger").read_text())
        ).verify_key
        assert info["ed25519_public"] == pub.b64()
        note = (await client.get(f"{url}/v1/checkpoint")).text
        cp = verify_checkpoint(note, info["origin"], pub)
        audit = await client.get(f"{url}/v1/audit/{tag}-3", headers=admin)
        trail = AuditTrailOut.model_validate(audit.json())
        anonymous = await client.get(f"{url}/v1/audit/{tag}-3")
        assert anonymous.status_code == 401
        tcp = verify_checkpoint(trail.checkpoint, info["origin"], pub)
        assert len(trail.entries) == len([e for e in events if e.subject == f"{tag}-3"])
        for proof in trail.entries:
            verify_inclusion(proof, tcp)
        incl = InclusionProofOut.model_validate(
            (
                await client.get(
                    f"{url}/v1/proofs/inclusion",
                    params={"event_id": str(events[5].id), "tree_size": cp.size},
                    headers=admin,
                )
            ).json()
        )
        verify_inclusion(incl, cp)
        r = await client.get(f"{url}/v1/proofs/consistency", params={"first": 5, "second": cp.size})
        cons = ConsistencyProofOut.model_validate(r.json())
        old = verify_checkpoint(note, info["origin"], pub)
        from dataclasses import replace

        verify_consistency(cons, replace(old, size=5, root_hash=bytes.fromhex(cons.first_root)), cp)
        report = (await client.get(f"{url}/v1/verify", headers=admin)).json()
        assert report["ok"], report
        block = (await client.get(f"{url}/v1/blocks/0")).json()
        assert base64.b64decode(block["header_bytes"]).startswith(b"PHR-LEDGER-BLOCK")
        assert len(block["leaf_hashes"]) == block["header"]["count"] and "events" not in block

    summary = verify_ledger(urls[1], pub, None)
    assert summary["ok"] and summary["log_size"] >= 300


async def test_event_bodies_go_only_to_their_patient_parties_and_auditors(
    stack: Any, kgc: KgcClient, operator_token: str, auditor_token: str
) -> None:
    """The log's shape is public, its bodies private (issue 19 M1, L2)."""
    url = ledger_urls(stack)[0]
    org = await kgc.create_org(operator_token, f"Hospital {uuid4().hex[:6]}", "hospital")
    admin = await kgc.staff(operator_token, "admin", org)
    doctor = await kgc.staff(operator_token, "doctor", org, "icu")
    patient, other = await kgc.enrol("patient"), await kgc.enrol("patient")
    event = spec_for("access.requested").make(
        AccessRequested(
            request_id=uuid4().hex,
            patient_id=patient.user_id,
            record_id="r_1",
            requester_id=doctor.user_id,
            segments=["labs"],
        ),
        key=producer_key(stack, "user-api"),
        source="user-api",
        subject=patient.user_id,
    )
    await publish(stack.kafka_bootstrap, [event])
    tokens = {
        who: bearer(await kgc.login(user))
        for who, user in (("patient", patient), ("doctor", doctor), ("other", other))
    }
    tokens |= {
        "org admin": bearer(await kgc.login(admin)),
        "operator": bearer(operator_token),
        "auditor": bearer(auditor_token),
        "anonymous": {},
    }
    async with httpx.AsyncClient(timeout=60) as client:

        async def sealed() -> bool:
            r = await client.get(f"{url}/v1/events/{event.id}", headers=tokens["auditor"])
            return r.status_code == 200

        await eventually(sealed, timeout=30, interval=0.3)
        routes = {
            "event": (f"/v1/events/{event.id}", {}),
            "events": ("/v1/events", {"subject": patient.user_id}),
            "inclusion": ("/v1/proofs/inclusion", {"event_id": str(event.id)}),
            "audit": (f"/v1/audit/{patient.user_id}", {}),
        }
        seen = {}
        for who, headers in tokens.items():
            for name, (path, params) in routes.items():
                r = await client.get(url + path, params=params, headers=headers)
                body = r.json() if r.status_code == 200 else None
                if name == "events" and body is not None:
                    seen[(who, name)] = str(event.id) in {e["id"] for e in body}
                elif name == "audit" and body is not None:
                    seen[(who, name)] = bool(body["entries"])
                else:
                    seen[(who, name)] = r.status_code
        readers = {"patient", "auditor"}
        for who in tokens:
            expected_code = 401 if who == "anonymous" else 200 if who in readers else 403
            party = who in readers or who == "doctor"  # the doctor is named: his entry
            assert seen[(who, "event")] == (200 if party else expected_code), (who, seen)
            assert seen[(who, "inclusion")] == (200 if party else expected_code), (who, seen)
            assert seen[(who, "audit")] == (True if who in readers else expected_code), who
            if who == "anonymous":
                assert seen[(who, "events")] == 401
            else:
                assert seen[(who, "events")] is party, (who, seen)
        # the whole-chain recomputation is the auditor's; the shape stays public
        assert (await client.get(f"{url}/v1/verify", headers=tokens["operator"])).status_code == 403
        assert (await client.get(f"{url}/v1/verify")).status_code == 401
        for path in ("/v1/checkpoint", "/v1/blocks/0", "/v1/key", "/v1/head"):
            assert (await client.get(url + path)).status_code == 200, path
        r = await client.get(f"{url}/v1/blocks/{2**63}")  # beyond int64: a clear 422 (L3)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_JSON


async def test_only_the_operator_approves_an_auditor(kgc: KgcClient, operator_token: str) -> None:
    org = await kgc.create_org(operator_token, f"Hospital {uuid4().hex[:6]}", "hospital")
    admin = await kgc.staff(operator_token, "admin", org)
    would_be = await kgc.enrol("auditor", org=org)
    r = await kgc.http.post(
        f"{kgc.url}/v1/users/{would_be.user_id}/approve",
        headers=bearer(await kgc.login(admin)),
    )
    assert r.status_code == 403, r.text
    await kgc.approve(operator_token, would_be)

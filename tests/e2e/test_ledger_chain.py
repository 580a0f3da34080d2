"""The ledger end to end: replicas agree byte for byte, forgeries stay out, proofs verify."""

from __future__ import annotations

import base64
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.cli.ledger import verify_ledger
from phr.crypto.signing import SigningKey
from phr.ledger.verify import verify_checkpoint, verify_consistency, verify_inclusion
from phr.ledger.wire import AuditTrailOut, ConsistencyProofOut, InclusionProofOut
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
    stack: Any, operator_token: str
) -> None:
    admin = {"Authorization": f"Bearer {operator_token}"}
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
        async with httpx.AsyncClient() as client:
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

    async with httpx.AsyncClient() as client:
        url = urls[0]
        for bad in forged[:2]:
            r = await client.get(f"{url}/v1/proofs/inclusion", params={"event_id": str(bad.id)})
            assert r.status_code == 404 or r.json()["event"]["signature"] != bad.signature
        r = await client.get(f"{url}/v1/events/{good.id}")
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
                )
            ).json()
        )
        verify_inclusion(incl, cp)
        r = await client.get(f"{url}/v1/proofs/consistency", params={"first": 5, "second": cp.size})
        cons = ConsistencyProofOut.model_validate(r.json())
        old = verify_checkpoint(note, info["origin"], pub)
        from dataclasses import replace

        verify_consistency(cons, replace(old, size=5, root_hash=bytes.fromhex(cons.first_root)), cp)
        report = (await client.get(f"{url}/v1/verify")).json()
        assert report["ok"], report
        block = (await client.get(f"{url}/v1/blocks/0")).json()
        assert base64.b64decode(block["header_bytes"]).startswith(b"PHR-LEDGER-BLOCK")

    summary = verify_ledger(urls[1], pub, None)
    assert summary["ok"] and summary["log_size"] >= 300

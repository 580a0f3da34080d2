"""Dump every event topic, replay into an empty deployment: a byte-identical chain.

The SRS nodes rebuild the same grant state from the replay. The source is a deployment
of its own (``isolated_stack``); the replay goes into a second, empty one
(``empty_stack``) that holds the same keys, so the session's stack is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.capture.kafka import topic_sizes
from phr.cli.events import REPLAY_TOPICS
from phr.identity.tokens import TokenSigner
from tests.support.cli import Phr
from tests.support.identity import service_url
from tests.support.ledger import (
    LEDGER_DBS,
    chain_from_db,
    entries_from_db,
    head,
    ledger_urls,
    make_events,
    producer_key,
    publish,
)
from tests.support.sharing import grant, key_of, revoke, sharing_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_replayed_dump_rebuilds_a_byte_identical_chain(
    isolated_stack: Any, empty_stack: Any, tmp_path: Path
) -> None:
    stack = isolated_stack
    tag = f"replay{uuid4().hex[:8]}"
    # Real grant state at the SRS nodes: two grants, one of them revoked.
    world = await sharing_world(stack)
    kept = await grant(stack, world.patient, world.doctor, ["labs", "conditions"])
    gone = await grant(stack, world.patient, world.insurer, ["insurance"])
    await revoke(stack, world.patient, gone.grant_id)
    events = make_events(producer_key(stack), 500, 9, tag)
    await publish(stack.kafka_bootstrap, list(events))
    url = ledger_urls(stack)[0]

    async def nodes_settled() -> dict[str, Any] | None:
        state = await srs_state(stack, world.patient.id)
        want = {kept.grant_id: "active", gone.grant_id: "revoked"}
        done = all(
            {g["grant_id"]: g["status"] for g in grants} == want for grants in state.values()
        )
        return state if done and len(state) == 3 else None

    srs_before = await eventually(nodes_settled, timeout=60, interval=0.5)

    async def sealed() -> bool:
        done = len(await entries_from_db(stack, LEDGER_DBS[0], tag)) == 500
        return done and (await head(url))["pending"] == 0

    await eventually(sealed, timeout=120, interval=0.5)
    original = await chain_from_db(stack, LEDGER_DBS[0])
    # Capture as a tester would: the CLI, with the source's parameters and checkpoint.
    phr = Phr(kgc_url=service_url(stack, "kgc"), passphrase=None)
    cap = tmp_path / "capture.ndjson"
    dumped = phr.json(
        "events",
        "dump",
        "-o",
        str(cap),
        "--bootstrap",
        stack.kafka_bootstrap,
        "--kgc",
        service_url(stack, "kgc"),
        "--ledger",
        url,
    )
    assert dumped["records"] > 500 and dumped["params"] and dumped["checkpoint"]
    verified = phr.json("events", "verify", str(cap))
    assert verified["ok"] and verified["events"]["acl.granted"] >= 2
    # One changed byte in one event: refused by verify and by the replay, nothing sent.
    bad = tmp_path / "tampered.ndjson"
    bad.write_text(_flip_one_byte(cap.read_text()))
    assert "bad signature" in phr.run("events", "verify", str(bad), check=False).stdout
    target = empty_stack.kafka_bootstrap
    refused = phr.run("events", "replay", str(bad), "--bootstrap", target, check=False)
    assert refused.returncode != 0 and "does not verify" in refused.stderr
    dry = phr.json("events", "replay", str(cap), "--bootstrap", target, "--dry-run")
    assert dry["dry_run"] and dry["records"] > 500
    assert await topic_sizes(target, REPLAY_TOPICS) == {}  # neither sent anything

    # The same keys (registry), an empty deployment: servers first, the stream, then services.
    empty_stack.secrets_dir.mkdir(parents=True, exist_ok=True)
    for secret in [*stack.secrets_dir.glob("*.ed25519"), *stack.secrets_dir.glob("*.x25519")]:
        (empty_stack.secrets_dir / secret.name).write_bytes(secret.read_bytes())
    sent = phr.json("events", "replay", str(cap), "--bootstrap", target)
    assert sent["records"] == dry["records"]
    again = phr.run("events", "replay", str(cap), "--bootstrap", target, check=False)
    assert again.returncode != 0 and "not empty" in again.stderr  # never a silent overwrite
    empty_stack.up()
    stack = empty_stack

    async def rebuilt() -> list[tuple[bytes, bytes]] | None:
        chain = await chain_from_db(stack, LEDGER_DBS[0], len(original))
        return chain if len(chain) == len(original) else None

    chain = await eventually(rebuilt, timeout=300, interval=1.0)
    assert chain == original  # same header bytes and signatures, block for block
    chain2 = await eventually(
        lambda: _prefix(stack, LEDGER_DBS[1], len(original)), timeout=300, interval=1.0
    )
    assert chain2 == original
    report = phr.json(
        "events",
        "report",
        str(cap),
        "--bootstrap",
        target,
        "--ledger",
        ledger_urls(stack)[0],
    )
    assert report["matches_source"] is True, report
    assert all(row["rejected"] == 0 for row in report["types"]), report

    async def same_grants() -> bool:
        after = await srs_state(stack, world.patient.id)
        assert after == srs_before, (after, srs_before)
        return True

    await eventually(same_grants, timeout=120, interval=1.0)

    # Replayed twice: idempotent consumers change nothing the second time.
    before = await head(ledger_urls(stack)[0])
    phr.json("events", "replay", str(cap), "--bootstrap", target, "--force")

    async def all_seen_again() -> dict[str, Any] | None:
        now = await head(ledger_urls(stack)[0])
        return now if now["duplicates"] >= before["duplicates"] + 500 else None

    await eventually(all_seen_again, timeout=120, interval=1.0)
    assert await chain_from_db(stack, LEDGER_DBS[0], len(original)) == original
    await eventually(same_grants, timeout=60, interval=1.0)


async def srs_state(stack: Any, patient_id: str) -> dict[str, Any]:
    """Each SRS node's grants of a patient (no kfrags), asked with a service token."""
    token = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service("srs")
    state: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for node in ("srs-1", "srs-2", "srs-3"):
            resp = await http.get(
                f"{service_url(stack, node)}/v1/grants",
                params={"patient_id": patient_id},
                headers={"Authorization": f"Bearer {token}"},
            )
            resp.raise_for_status()
            state[node] = sorted(
                (
                    {k: g.get(k) for k in ("grant_id", "status", "segments", "key_versions")}
                    for g in resp.json()["grants"]
                ),
                key=lambda g: str(g["grant_id"]),
            )
    return state


async def _prefix(stack: Any, db: str, n: int) -> list[tuple[bytes, bytes]] | None:
    chain = await chain_from_db(stack, db, n)
    return chain if len(chain) == n else None


def _flip_one_byte(text: str) -> str:
    """The capture with one byte changed inside the data of its first acl.granted event."""
    import base64
    import json

    lines = text.splitlines()
    for i, line in enumerate(lines[1:], start=1):
        rec = json.loads(line)
        value = base64.b64decode(rec["value"] or "")
        if rec["topic"] == "phr.acl" and b'"acl.granted"' in value:
            at = value.index(b'"grant_id":"') + 13
            value = value[:at] + bytes([value[at] ^ 0x01]) + value[at + 1 :]
            rec["value"] = base64.b64encode(value).decode()
            lines[i] = json.dumps(rec)
            return "\n".join(lines) + "\n"
    raise AssertionError("no acl.granted event in the capture")

"""Dump every event topic, bring up a fresh deployment from it: a byte-identical chain.

The one command a tester types (``python -m deploy.local from-capture … --trust-capture``,
what ``make from-capture`` runs) brings the empty deployment up trusting the capture's
producers. The SRS nodes rebuild the same grant state, the KGC the same users and
organisations, owner-api the same records' metadata; a second replay changes none of
it. The source is a deployment of its own (``isolated_stack``); the replay goes into a
second, empty one (``empty_stack``), so the session's stack is left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.capture.kafka import topic_sizes
from phr.cli.events import REPLAY_TOPICS
from phr.identity.tokens import TokenSigner
from phr.sdk.records import RecordsClient
from tests.support.cli import Phr
from tests.support.grants import BUNDLE
from tests.support.identity import KgcClient, service_url
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


@pytest.mark.timeout(1500)
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
    async with world.patient.records() as records:
        await records.upload_record(BUNDLE, **world.patient.upload_args(), validate=False)
    people = [world.patient.id, world.doctor.id, world.insurer.id]
    orgs = [world.hospital, world.insurer_org]
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
        timeout=600,  # it reads every topic to its end: minutes on a loaded machine
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

    directory_before = await directory(stack, people, orgs)
    records_before = await patient_records(stack, world.patient)

    # One command: an empty deployment trusting the capture's producers (the source's key
    # files), the stream replayed before its services start, the ledger caught up.
    stack = empty_stack
    made = from_capture(stack, cap, isolated_stack.secrets_dir)
    assert made["replayed"] == dry["records"]
    assert "users' secret keys" in made["not_rebuilt"] and "S3" in made["not_rebuilt"]
    report = made["report"]
    assert report["matches_source"] is True, report
    assert all(row["rejected"] == 0 for row in report["types"]), report
    again = phr.run("events", "replay", str(cap), "--bootstrap", target, check=False)
    assert again.returncode != 0 and "not empty" in again.stderr  # never a silent overwrite

    async def rebuilt() -> list[tuple[bytes, bytes]] | None:
        chain = await chain_from_db(stack, LEDGER_DBS[0], len(original))
        return chain if len(chain) == len(original) else None

    chain = await eventually(rebuilt, timeout=300, interval=1.0)
    assert chain == original  # same header bytes and signatures, block for block
    chain2 = await eventually(
        lambda: _prefix(stack, LEDGER_DBS[1], len(original)), timeout=300, interval=1.0
    )
    assert chain2 == original

    # Users, organisations and records' metadata are back: the patient logs in with the
    # keys he enrolled with and lists the same records.
    async def directory_back() -> dict[str, Any]:
        after = await directory(stack, people, orgs)
        assert after == directory_before, (after, directory_before)
        return after

    await eventually(directory_back, timeout=120, interval=1.0)

    async def records_back() -> list[dict[str, Any]]:
        after = await patient_records(stack, world.patient)
        assert after == records_before, (after, records_before)
        return after

    await eventually(records_back, timeout=120, interval=1.0)

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
    await eventually(lambda: _caught_up(stack, "kgc", "directory-events"), timeout=120)
    await eventually(lambda: _caught_up(stack, "owner-api", "record-events"), timeout=120)
    assert await directory(stack, people, orgs) == directory_before
    assert await patient_records(stack, world.patient) == records_before


def from_capture(stack: Any, capture: Path, secrets: Path) -> dict[str, Any]:
    """``python -m deploy.local from-capture`` into ``stack``, as a tester types it."""
    env = {**os.environ, "PHR_STACK_DIR": str(stack.base)}
    env["PHR_PORT_OFFSET"] = str(int(os.environ.get("PHR_PORT_OFFSET") or 0) + 100)
    argv = [sys.executable, "-m", "deploy.local", "from-capture", str(capture)]
    argv += ["--secrets", str(secrets), "--trust-capture", "--profile", stack.p.name, "--json"]
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(argv, env=env, cwd=root, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def _service_token(stack: Any) -> str:
    return TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service("kgc")


async def directory(stack: Any, users: list[str], orgs: list[str]) -> dict[str, Any]:
    """What the KGC publishes of these users and organisations (display names aside)."""
    headers = {"Authorization": f"Bearer {_service_token(stack)}"}
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=service_url(stack, "kgc"), timeout=10) as http:
        for uid in users:
            resp = await http.get(f"/v1/users/{uid}", headers=headers)
            resp.raise_for_status()
            view = resp.json()
            out[uid] = {k: v for k, v in view.items() if k not in ("display_name", "credential")}
        for oid in orgs:
            resp = await http.get(f"/v1/orgs/{oid}", headers=headers)
            resp.raise_for_status()
            out[oid] = resp.json()
    return out


async def patient_records(stack: Any, patient: Any) -> list[dict[str, Any]]:
    """The patient's records as he lists them, logged in at this deployment's KGC."""
    async with httpx.AsyncClient(timeout=10) as http:
        token = await KgcClient(http, service_url(stack, "kgc")).login(patient.user)
    async with RecordsClient(service_url(stack, "owner-api"), token) as records:
        listed = await records.list_records(patient.id)
        details = [await records.get_record(patient.id, r.record_id) for r in listed]
    # created_at is when an upload began, which no event says; the commit time is kept
    return [d.model_dump(mode="json", exclude={"created_at"}) for d in details]


async def _caught_up(stack: Any, service: str, check: str) -> bool:
    """The service's rebuild consumer has read everything (lag 0): the second replay too."""
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(f"{service_url(stack, service)}/readyz")
    return resp.status_code == 200 and resp.json()["details"].get(check, {}).get("lag") == 0


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

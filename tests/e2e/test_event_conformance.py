"""The events on a real stack's wire, judged by the standards' own tools (issue 16, 1-2).

One scenario drives the running system through the SDK clients (enrol, approve, an
organisation, upload, grant, access, a denied access, break-glass, delegation,
revocation with key rotation, delete, traitor tracing, a service restart) and one
forged event the ledger refuses (so a dead letter is written). Then every record of
every topic is read with aiokafka from the beginning, and of those the records the
system wrote since the scenario began (tests/support/event_stream.py) must:

1. parse with the official CloudEvents SDK (its Kafka binding, structured mode, and its
   HTTP JSON reader), with the attributes :mod:`phr.events.envelope` reads;
2. conform to docs/asyncapi.json (topic, headers, content type, payload), and show
   everything its send operations declare;
3. hold every (type, version) the catalog says is produced, so a new event type without
   a scenario here fails.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.catalog import (
    CATALOG,
    TOPIC_DEADLETTER,
    TOPIC_LEDGER_SEQUENCE,
    TOPICS,
    produced_specs,
    spec_for,
)
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.events.records import RecordDeleted
from phr.sdk.access import AccessDenied
from phr.sdk.groups import member_group_key
from phr.sdk.identity import IdentityClient
from phr.service.kafka import kafka_producer
from phr.service.settings import KafkaSettings
from tests.support.asyncapi import DOCUMENT, WireCheck
from tests.support.cloudevents_sdk import sdk_mismatches
from tests.support.event_stream import Seen, StreamReader, caused_since, read_until
from tests.support.grants import World, grant_world
from tests.support.identity import TestUser
from tests.support.sharing import Staff, reader, restart
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

PRODUCED = {(s.type, s.version) for s in produced_specs()}


def envelope_of(seen: Seen) -> Envelope | None:
    try:
        return Envelope.from_json_bytes(seen.value)
    except EnvelopeInvalid:
        return None


# -------------------------------------------------------------------- the scenario


async def staff_reader_opens(world: World, user: TestUser, record_id: str, **kw: Any) -> Any:
    """``user`` opens the record through user-api (group keys from the KGC, as the CLI)."""
    token = await world.kgc.login(user)

    async def group_key(group_id: str, public_key: str) -> PreSecretKey | None:
        return await member_group_key(
            world.kgc_url, token, user.keys, group_id, public_key=public_key
        )

    async with reader(world.stack, Staff(user, token), group_key_resolver=group_key) as client:
        return await client.open_record(world.pid, record_id, validate=False, **kw)


async def opens_once_granted(world: World, user: TestUser, record_id: str, **kw: Any) -> Any:
    """The record opened as soon as the SRS nodes hold the grant (they read it from Kafka)."""

    async def opened() -> Any:
        try:
            return await staff_reader_opens(world, user, record_id, **kw)
        except AccessDenied as exc:
            raise AssertionError(f"not granted yet: {exc.denied}") from exc

    return await eventually(opened, timeout=30, interval=0.3)


async def run_scenario(world: World) -> Envelope:
    """Every kind of event the system writes; returns the forged event it must refuse."""
    doctor = await world.staff("doctor")  # user.enrolled, user.approved
    nurse = await world.staff("nurse")
    caregiver = await world.kgc.enrol("caregiver")
    sharing = world.sharing
    await sharing.publish_keys(world.pid)
    record_id = await world.upload()  # record.uploaded
    grant = await sharing.grant_user(world.pid, doctor.user_id, ["labs"])  # acl.granted

    # access.requested, access.decided
    opened = await opens_once_granted(world, doctor, record_id, segments=["labs"])
    assert set(opened.access.opened) == {"labs"}
    with pytest.raises(AccessDenied):  # the nodes decide, and deny
        await staff_reader_opens(world, nurse, record_id, segments=["labs"])

    await sharing.set_emergency_segments(world.pid, ["demographics"])  # group grants

    opened = await opens_once_granted(  # access.breakglass
        world, doctor, record_id, segments=["demographics"], breakglass_reason="unconscious"
    )
    assert opened.access.breakglass is not None
    await sharing.delegate(world.pid, caregiver.user_id, ["labs"])  # delegation.changed
    await sharing.revoke(world.pid, grant.grant_id)  # acl.revoked, key.rotated
    async with world.patient.records() as records:
        await records.delete_record(world.pid, record_id)  # record.deleted
    leaked = {"secret_key": b64u_encode(nurse.keys.pre.to_bytes())}
    traced = await IdentityClient(world.kgc_url, http=world.http).trace(world.admin, leaked)
    assert (traced["user_id"], traced["revoked"]) == (nurse.user_id, True)  # user.traced, .revoked

    world.stack.stop("cloud-store")  # service.started when it is back
    restart(world.stack, "cloud-store")

    # A well-formed event (it conforms to the document) signed by a key nobody
    # registered: relayed to the sequence topic, refused by the ledger, dead-lettered.
    forged = spec_for("record.deleted").make(
        RecordDeleted(patient_id=world.pid, record_id=f"forged-{uuid.uuid4().hex}", deleted_by="x"),
        key=SigningKey.generate(),
        source="owner-api",
        subject=world.pid,
    )
    async with kafka_producer(KafkaSettings(bootstrap_servers=world.stack.kafka_bootstrap)) as pub:
        await pub.publish(forged)
    return forged


@dataclass
class Capture:
    #: what the system wrote since the scenario began (and the forged event's path)
    records: list[Seen]
    forged: Envelope
    #: the rest of the stream: written before (earlier tests, the services' start)
    earlier: list[Seen]


def missing(records: list[Seen], forged: Envelope) -> list[str]:
    """What the stream does not show yet: a produced type, a relayed copy of an event-topic
    record, the forgery's dead letter (empty: it shows all)."""
    types = {(e.type, e.schemaversion) for e in map(envelope_of, records) if e is not None}
    relayed = {r.header("phr-origin") for r in records if r.topic == TOPIC_LEDGER_SEQUENCE}
    gaps = [f"{t} v{v}" for t, v in sorted(PRODUCED - types)]
    gaps += [
        f"copy of {r.position}"
        for r in records
        if r.topic in TOPICS and "/".join(map(str, r.position)) not in relayed
    ]
    raw = forged.to_json_bytes()
    if not any(r.topic == TOPIC_DEADLETTER and r.value == raw for r in records):
        gaps.append("the forgery's dead letter")
    return gaps


@pytest.fixture(scope="module")
async def capture(stack: Any) -> Capture:
    since_ms = int(time.time() * 1000)
    async with httpx.AsyncClient(timeout=30) as http:
        world = await grant_world(stack, http)
        forged = await run_scenario(world)
    stream = StreamReader(stack.kafka_bootstrap)

    def still_missing() -> list[str]:
        return missing(caused_since(stream.records.values(), since_ms), forged)

    await read_until(stream, still_missing, timeout_s=90)
    caused = caused_since(stream.records.values(), since_ms)
    kept = {s.position for s in caused}
    earlier = [s for p, s in sorted(stream.records.items()) if p not in kept]
    return Capture(caused, forged, earlier)


async def test_the_records_judged_are_those_written_since_the_scenario_began(
    capture: Capture,
) -> None:
    """The scope is neither empty nor the whole stream: the start of the services that
    were up before is left out (with the records earlier tests wrote), the restart of
    cloud-store in the scenario is in."""

    def started(records: list[Seen]) -> set[str]:
        return {
            e.source
            for e in map(envelope_of, records)
            if e is not None and e.type == "service.started"
        }

    assert {"kgc", "owner-api", "user-api", "srs-1", "ledger"} <= started(capture.earlier)
    assert "cloud-store" in started(capture.records)


# -------------------------------------------------------------------- 1. the SDK


async def test_every_record_parses_with_the_official_sdk_as_our_envelope(
    capture: Capture,
) -> None:
    assert capture.records, "the scenario wrote nothing"
    problems = {}
    for seen in capture.records:
        try:
            wrong = sdk_mismatches(seen)
        except Exception as exc:  # noqa: BLE001 - the SDK refusing the record is the finding
            wrong = [f"{type(exc).__name__}: {exc}"[:300]]
        if wrong:
            problems["/".join(map(str, seen.position))] = wrong
    assert problems == {}


# -------------------------------------------------------------------- 2. AsyncAPI


async def test_every_record_conforms_to_the_asyncapi_document_and_shows_all_it_declares(
    capture: Capture,
) -> None:
    check = WireCheck(json.loads(DOCUMENT.read_text()))
    assert check.check_all(s.as_record() for s in capture.records) == []
    assert check.coverage_gaps() == []
    assert check.retired_seen() == []  # what the catalog calls retired is not written


async def test_the_only_dead_letters_are_the_forgery_unchanged(capture: Capture) -> None:
    """The ledger took every event the system wrote; it refused the forged one, whose
    bytes its dead letters carry unchanged, with the offset of the copy it refused."""
    letters = [s for s in capture.records if s.topic == TOPIC_DEADLETTER]
    assert letters
    raw = capture.forged.to_json_bytes()
    assert [(s.value == raw, s.header("phr-reason")) for s in letters] == [
        (True, "unknown producer key")
    ] * len(letters)
    copies = {str(s.offset): s for s in capture.records if s.topic == TOPIC_LEDGER_SEQUENCE}
    assert all(copies[(s.key or b"").decode()].value == raw for s in letters)


# -------------------------------------------------------------------- 3. the catalog


async def test_every_event_type_the_catalog_says_is_produced_occurs(capture: Capture) -> None:
    written = [s for s in capture.records if s.topic != TOPIC_DEADLETTER]
    seen = {(e.type, e.schemaversion) for e in map(envelope_of, written) if e is not None}
    assert PRODUCED - seen == set()  # a produced type without a scenario here fails
    assert seen <= PRODUCED <= set(CATALOG)

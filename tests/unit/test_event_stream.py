"""The e2e conformance test's two judges, on synthetic records: which records of a shared
stream a scenario caused (tests/support/event_stream.py), and where the official
CloudEvents SDK reads a record otherwise than we do (tests/support/cloudevents_sdk.py)."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from cloudevents.core.exceptions import CloudEventValidationError

from phr.crypto.signing import SigningKey
from phr.events.catalog import ORIGIN_HEADER, TOPIC_DEADLETTER, TOPIC_LEDGER_SEQUENCE
from phr.events.envelope import Envelope, new_event
from phr.events.legacy import legacy_event
from phr.service.kafka import envelope_headers
from tests.support.cloudevents_sdk import sdk_mismatches
from tests.support.event_stream import Seen, caused_since

KEY = SigningKey.from_seed(bytes(32))
SINCE = 1_000_000
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def event(**kw: object) -> Envelope:
    return new_event(
        key=KEY,
        source="owner-api",
        type="record.deleted",
        schemaversion=1,
        subject="p1",
        data={"patient_id": "p1", "record_id": "r1", "deleted_by": "p1"},
        **kw,  # type: ignore[arg-type]
    )


def seen(
    topic: str,
    offset: int,
    at: int,
    *,
    key: bytes | None = b"p1",
    headers: dict[str, str] | None = None,
    value: bytes = b"{}",
) -> Seen:
    hs = tuple((k, v.encode()) for k, v in (headers or {}).items())
    return Seen(topic, 0, offset, at, key, value, hs)


def copy(offset: int, at: int, origin: str) -> Seen:
    return seen(TOPIC_LEDGER_SEQUENCE, offset, at, headers={ORIGIN_HEADER: origin})


def letter(at: int, key: bytes) -> Seen:
    return seen(TOPIC_DEADLETTER, 0 if key == b"x" else int(key), at, key=key)


def test_the_scenario_caused_what_was_written_since_and_what_derives_from_it() -> None:
    stream = [
        seen("phr.records", 0, SINCE - 1),  # an earlier test's record
        seen("phr.records", 1, SINCE),
        copy(5, SINCE + 1, "phr.records/0/0"),  # relayed late, of the earlier record
        copy(6, SINCE + 2, "phr.records/0/1"),
        copy(7, SINCE + 3, "phr.records/0/99"),  # of a record not (yet) read: kept
        copy(8, SINCE + 4, "garbage"),  # an origin that names nothing: kept
        seen(TOPIC_LEDGER_SEQUENCE, 9, SINCE + 5),  # a cut marker
        letter(SINCE + 6, b"5"),  # the dead letter of the earlier record's copy
        letter(SINCE + 7, b"6"),
        letter(SINCE + 8, b"x"),  # a key that names no offset: kept
        seen("phr.test.mine", 0, SINCE + 9),  # an undeclared topic: kept, to be judged
    ]
    got = [(s.topic, s.offset) for s in caused_since(reversed(stream), SINCE)]
    assert got == [
        (TOPIC_DEADLETTER, 0),
        (TOPIC_DEADLETTER, 6),
        (TOPIC_LEDGER_SEQUENCE, 6),
        (TOPIC_LEDGER_SEQUENCE, 7),
        (TOPIC_LEDGER_SEQUENCE, 8),
        (TOPIC_LEDGER_SEQUENCE, 9),
        ("phr.records", 1),
        ("phr.test.mine", 0),
    ]


def as_record(e: Envelope, topic: str = "phr.records", key: bytes | None = b"p1") -> Seen:
    headers = {k: v.decode() for k, v in envelope_headers(e)}
    return seen(topic, 3, SINCE, key=key, headers=headers, value=e.to_json_bytes())


def test_the_sdk_reads_our_event_as_we_do() -> None:
    assert sdk_mismatches(as_record(event())) == []
    full = event(correlationid="hosp-req-42", causationid=uuid4(), traceparent=TRACE)
    assert sdk_mismatches(as_record(full)) == []
    # a dead letter is keyed by the offset of the copy refused
    assert sdk_mismatches(as_record(full, TOPIC_DEADLETTER, key=b"17")) == []


def test_a_record_keyed_otherwise_than_by_its_subject_is_a_mismatch() -> None:
    assert [m.split(":")[0] for m in sdk_mismatches(as_record(event(), key=b"p2"))] == [
        "partitionkey"
    ]
    assert "names" in {m.split(":")[0] for m in sdk_mismatches(as_record(event(), key=None))}


def test_an_attribute_the_sdk_reads_otherwise_is_a_mismatch() -> None:
    # an id in upper case: our model reads the UUID (and writes it in lower case), the
    # SDK keeps the string
    wire = json.loads(event().to_json_bytes())
    wire["id"] = wire["id"].upper()
    record = seen("phr.records", 3, SINCE, value=json.dumps(wire).encode())
    assert [m.split(":")[0] for m in sdk_mismatches(record)] == ["id"]


def test_the_sdk_refuses_an_event_in_the_old_spelling() -> None:
    old = legacy_event(
        key=KEY,
        source="owner-api",
        type="record.deleted",
        schema_version=1,
        subject="p1",
        data={"patient_id": "p1", "record_id": "r1", "deleted_by": "p1"},
    )
    with pytest.raises(CloudEventValidationError, match="schema_version"):
        sdk_mismatches(seen("phr.records", 3, SINCE, value=old.to_json_bytes()))

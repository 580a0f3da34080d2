"""The envelope: round trip, signature, tampering, catalog parsing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from phr.crypto.signing import SigningKey
from phr.events import EnvelopeInvalid, parse_data, spec_for
from phr.events.catalog import CATALOG
from phr.events.envelope import Envelope, dataschema_path, dataschema_uri, new_event
from phr.events.legacy import legacy_event
from phr.events.records import RecordDeleted
from phr.events.schemas import data_schema
from phr.events.system import ServiceStarted
from phr.service.kafka import envelope_headers

KEY = SigningKey.from_seed(bytes(range(32)))


def make() -> Envelope:
    return spec_for("record.deleted").make(
        RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1"),
        key=KEY,
        source="owner-api",
        subject="p1",
        correlation_id=uuid4(),
    )


def test_round_trip_keeps_every_field_and_the_signature() -> None:
    event = make()
    back = Envelope.from_json_bytes(event.to_json_bytes())
    assert back == event
    back.verify(KEY.verify_key)
    assert parse_data(back) == RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1")


def test_wire_form_uses_cloudevents_names() -> None:
    wire = json.loads(make().to_json_bytes())
    for name in ("specversion", "id", "source", "type", "time", "subject", "datacontenttype"):
        assert name in wire
    assert wire["type"] == "record.deleted" and wire["schemaversion"] == 1
    assert wire["dataschema"] == "urn:phr:schema:record.deleted:v1"
    assert all(re.fullmatch("[a-z0-9]+", name) for name in wire if name != "data")
    assert "causationid" not in wire and "traceparent" not in wire  # absent, never null


@pytest.mark.parametrize("cid", ["hosp-req-42", "a" * 128, "urn:x:1", str(uuid4())])
def test_any_opaque_correlation_id_in_bounds_is_kept(cid: str) -> None:
    event = spec_for("record.deleted").make(
        RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1"),
        key=KEY,
        source="owner-api",
        subject="p1",
        correlation_id=cid,
    )
    assert Envelope.from_json_bytes(event.to_json_bytes()).correlationid == cid


@pytest.mark.parametrize("cid", ["", "a" * 129, "two words", "é", "a\nb", None])
def test_a_malformed_correlation_id_is_replaced_not_an_error(cid: str | None) -> None:
    event = spec_for("record.deleted").make(
        RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1"),
        key=KEY,
        source="owner-api",
        subject="p1",
        correlation_id=cid,
    )
    assert event.correlationid != cid and UUID(event.correlationid)


def test_traceparent_is_carried_and_a_malformed_one_dropped() -> None:
    good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    data = RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1")
    make = spec_for("record.deleted").make
    event = make(data, key=KEY, source="owner-api", subject="p1", traceparent=good)
    back = Envelope.from_json_bytes(event.to_json_bytes())
    assert back.traceparent == good
    back.verify(KEY.verify_key)  # the signature covers it
    for bad in ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "garbage", good.upper()):
        assert make(data, key=KEY, source="o", subject="p1", traceparent=bad).traceparent is None


def test_a_legacy_event_is_upcast_and_keeps_its_spelling() -> None:
    old = legacy_event(
        key=KEY,
        source="owner-api",
        type="record.deleted",
        schema_version=1,
        subject="p1",
        data={"patient_id": "p1", "record_id": "r1", "deleted_by": "p1"},
        causation_id=UUID(int=3),
    )
    raw = old.to_json_bytes()
    assert b'"schema_version":1' in raw and b'"causation_id"' in raw
    back = Envelope.from_json_bytes(raw)
    assert back.legacy and back.schemaversion == 1 and back.causationid == UUID(int=3)
    assert back.correlationid == str(old.correlationid)
    assert back.dataschema == "urn:phr:schema:record.deleted:v1"
    assert back.to_json_bytes() == raw  # relayed or stored again: the same bytes
    back.verify(KEY.verify_key)  # over what its producer signed
    assert parse_data(back) == RecordDeleted(patient_id="p1", record_id="r1", deleted_by="p1")
    wire = json.loads(raw)
    wire["data"]["record_id"] = "r2"
    with pytest.raises(EnvelopeInvalid, match="bad signature"):
        Envelope.from_json_bytes(json.dumps(wire).encode()).verify(KEY.verify_key)


def test_the_dataschema_uri_resolves_to_a_file_of_the_repository() -> None:
    root = Path(__file__).resolve().parents[3]
    for spec in CATALOG.values():
        uri = dataschema_uri(spec.type, spec.version)
        path = root / dataschema_path(uri)
        schema = json.loads(path.read_text())
        assert schema["$id"] == uri and schema["properties"] == data_schema(spec)["properties"]
    with pytest.raises(ValueError):
        dataschema_path("https://example.org/x.json")


@pytest.mark.parametrize("key", sorted(CATALOG), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_the_official_sdk_reads_every_event_type_from_its_kafka_record(
    key: tuple[str, int],
) -> None:
    """As a record our publisher sends it, with the CloudEvents SDK's Kafka binding."""
    spec = CATALOG[key]
    event = new_event(
        key=KEY,
        source="owner-api",
        type=spec.type,
        schemaversion=spec.version,
        subject="p1",
        data={"any": "data"},
        causationid=uuid4(),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    message = kafka.KafkaMessage(
        headers=dict(envelope_headers(event)),
        key=event.subject.encode(),
        value=event.to_json_bytes(),
    )
    ce = kafka.from_structured(message, JSONFormat(), CloudEvent)
    assert ce.get_type() == spec.type and ce.get_id() == str(event.id)
    assert ce.get_dataschema() == event.dataschema and ce.get_subject() == "p1"
    assert ce.get_extension("schemaversion") == spec.version
    assert ce.get_extension("correlationid") == event.correlationid
    assert ce.get_extension("traceparent") == event.traceparent
    assert ce.get_extension("partitionkey") == "p1"  # the record key
    assert ce.get_data() == {"any": "data"}
    assert dict(envelope_headers(event)) == {"content-type": b"application/cloudevents+json"}


@pytest.mark.parametrize(
    "field,value",
    [
        ("subject", "p2"),
        ("type", "record.uploaded"),
        ("source", "kgc"),
        ("data", {"patient_id": "p2", "record_id": "r1", "deleted_by": "p1"}),
        ("time", "2030-01-01T00:00:00Z"),
    ],
)
def test_a_tampered_event_fails_its_signature(field: str, value: object) -> None:
    wire = json.loads(make().to_json_bytes())
    wire[field] = value
    tampered = Envelope.from_json_bytes(json.dumps(wire).encode())
    with pytest.raises(EnvelopeInvalid, match="bad signature"):
        tampered.verify(KEY.verify_key)


def test_another_key_is_refused() -> None:
    other = SigningKey.from_seed(bytes(32))
    with pytest.raises(EnvelopeInvalid, match="another key"):
        make().verify(other.verify_key)


def test_a_signature_made_by_another_key_under_our_name_is_refused() -> None:
    forger = SigningKey.from_seed(bytes(32))
    event = make()
    forged = event.model_copy(
        update={"signature": make_sig(forger, event)},
    )
    with pytest.raises(EnvelopeInvalid, match="bad signature"):
        forged.verify(KEY.verify_key)


def make_sig(key: SigningKey, event: Envelope) -> str:
    from phr.crypto.signing import b64u_encode

    return b64u_encode(key.sign_json(event.signing_payload()))


def test_envelope_is_frozen() -> None:
    event = make()
    with pytest.raises(ValueError):
        event.subject = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"{}", b'{"id": "nope"}', json.dumps({"x": 1}).encode()],
)
def test_malformed_bytes_are_envelope_invalid(raw: bytes) -> None:
    with pytest.raises(EnvelopeInvalid):
        Envelope.from_json_bytes(raw)


def test_unknown_type_and_bad_data_are_refused() -> None:
    with pytest.raises(EnvelopeInvalid, match="unknown event type"):
        spec_for("no.such")
    event = make()
    bad = event.model_copy(update={"data": {"patient_id": "p1"}})
    with pytest.raises(EnvelopeInvalid, match="record.deleted"):
        parse_data(bad)


def test_make_refuses_the_wrong_data_model() -> None:
    with pytest.raises(TypeError):
        spec_for("record.deleted").make(
            ServiceStarted(service="x", instance="y", version="1"),
            key=KEY,
            source="x",
            subject="x",
        )

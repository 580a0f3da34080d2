"""The envelope: round trip, signature, tampering, catalog parsing."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from phr.crypto.signing import SigningKey
from phr.events import EnvelopeInvalid, parse_data, spec_for
from phr.events.envelope import Envelope
from phr.events.records import RecordDeleted
from phr.events.system import ServiceStarted

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
    assert wire["type"] == "record.deleted" and wire["schema_version"] == 1


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

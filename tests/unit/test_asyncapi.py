"""docs/asyncapi.json is valid AsyncAPI 3.0.0 (the spec's JSON Schema) and takes exactly
the records our publisher writes (the e2e tier checks it against the running system)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from phr.crypto.signing import SigningKey
from phr.events.asyncapi import DEADLETTER_MESSAGE, build_document, message_name, relayed_name
from phr.events.catalog import (
    _SPECS,
    ORIGIN_HEADER,
    TOPIC_DEADLETTER,
    TOPIC_LEDGER_SEQUENCE,
    TOPICS,
    produced_specs,
    spec_for,
)
from phr.events.envelope import new_event
from phr.service.kafka import envelope_headers
from tests.support.asyncapi import DOCUMENT, Record, WireCheck, spec_errors

KEY = SigningKey.from_seed(bytes(32))


def test_the_document_is_valid_asyncapi_3() -> None:
    assert spec_errors(json.loads(DOCUMENT.read_text())) == []


def test_the_validator_would_see_a_broken_document() -> None:
    doc: dict[str, Any] = build_document()
    next(iter(doc["operations"].values()))["action"] = "publish"  # AsyncAPI 2 wording
    doc["channels"]["phr.acl"]["bindings"] = {"kafka": {"nope": 1}}
    assert len(spec_errors(doc)) >= 1


def record_of(spec: Any, **kw: Any) -> Record:
    event = new_event(
        key=KEY,
        source="owner-api",
        type=spec.type,
        schemaversion=spec.version,
        subject="p1",
        data=spec.model.model_json_schema() and {},
        causationid=uuid4(),
    )
    value = kw.pop("value", event.to_json_bytes())
    return Record(spec.topic, kw.pop("headers", envelope_headers(event)), b"p1", value)


def test_every_event_type_as_published_conforms_on_its_topic() -> None:
    check = WireCheck(build_document())
    for spec in _SPECS:
        rec = record_of(spec)
        # ``data`` {} is not every model's data: check headers, topic and type only
        problem = check.problem(rec)
        assert problem is None or "payload" in problem, problem
        if spec.topic in TOPICS:
            relayed = Record(
                TOPIC_LEDGER_SEQUENCE,
                [*rec.headers, (ORIGIN_HEADER, b"phr.acl/0/7")],
                None,
                rec.value,
            )
            p = check.problem(relayed)
            assert p is None or "payload" in p, p


@pytest.mark.parametrize(
    "mutate,words",
    [
        (lambda r: Record("phr.nope", r.headers, r.key, r.value), "not in the document"),
        (lambda r: Record(r.topic, [*r.headers, ("ce_type", b"x")], r.key, r.value), "headers"),
        (
            lambda r: Record(r.topic, [("content-type", b"application/json")], r.key, r.value),
            "content-type",
        ),
        (lambda r: Record(r.topic, [], r.key, r.value), "headers"),
        (lambda r: Record("phr.system", r.headers, r.key, r.value), "no message"),
    ],
)
def test_what_is_not_declared_is_a_problem(mutate: Any, words: str) -> None:
    spec = next(s for s in _SPECS if s.type == "record.deleted")
    rec = record_of(spec)
    assert words in (WireCheck(build_document()).problem(mutate(rec)) or "")


def test_only_the_newest_version_of_a_type_is_produced() -> None:
    """Producers publish ``spec_for(type)``, the newest: an older version marked as
    produced would be a promise nothing keeps (and the e2e conformance test would wait
    for it in vain)."""
    assert produced_specs() and all(spec_for(s.type) is s for s in produced_specs())
    assert {(s.type, s.version) for s in _SPECS if not s.produced} == {
        ("user.enrolled", 1),
        ("access.granted", 1),
        ("access.denied", 1),
    }


def sent_and_listed(doc: dict[str, Any]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    check = WireCheck(doc)
    listed = {
        (c["address"], m["$ref"].rsplit("/", 1)[-1])
        for c in doc["channels"].values()
        for m in c["messages"].values()
    }
    return check.sent, listed


def test_send_operations_name_exactly_what_is_produced_and_channels_all_that_is_read() -> None:
    sent, listed = sent_and_listed(build_document())
    want_sent = {(TOPIC_DEADLETTER, DEADLETTER_MESSAGE)}
    for s in produced_specs():
        want_sent.add((s.topic, message_name(s.type, s.version)))
        if s.topic in TOPICS:
            want_sent.add((TOPIC_LEDGER_SEQUENCE, relayed_name(s.type, s.version)))
    assert sent == want_sent
    retired = {("phr.users", "user_enrolled_v1"), ("phr.access", "access_granted_v1")}
    retired.add((TOPIC_LEDGER_SEQUENCE, "user_enrolled_v1_relayed"))
    assert retired <= listed - sent


def user_enrolled_v1_record() -> Record:
    spec = next(s for s in _SPECS if (s.type, s.version) == ("user.enrolled", 1))
    data = {
        "user_id": "u1",
        "role": "patient",
        "status": "active",
        "ed25519_fingerprint": "ab" * 32,
        "umbral_fingerprint": "cd" * 32,
    }
    event = new_event(
        key=KEY, source="kgc", type=spec.type, schemaversion=1, subject="u1", data=data
    )
    return Record(spec.topic, envelope_headers(event), b"u1", event.to_json_bytes())


def test_a_retired_message_conforms_is_no_gap_and_is_reported_when_seen() -> None:
    check = WireCheck(build_document())
    gaps = check.coverage_gaps()
    assert "message user_enrolled_v1 on phr.users" not in gaps
    assert "message user_enrolled_v2 on phr.users" in gaps  # produced, not yet seen
    assert check.retired_seen() == []
    assert check.problem(user_enrolled_v1_record()) is None
    assert check.retired_seen() == ["message user_enrolled_v1 on phr.users"]
    assert check.coverage_gaps() == gaps

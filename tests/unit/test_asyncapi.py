"""docs/asyncapi.json is valid AsyncAPI 3.0.0 (the spec's JSON Schema) and takes exactly
the records our publisher writes (the e2e tier checks it against the running system)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest

from phr.crypto.signing import SigningKey
from phr.events.asyncapi import build_document
from phr.events.catalog import _SPECS, ORIGIN_HEADER, TOPIC_LEDGER_SEQUENCE, TOPICS
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

"""read_wire_form, the model-free reading of envelopes, agrees with the model.

Whenever it gives a form, the model accepts the same bytes and gives the same form (so
the canonical bytes, the leaf and the signed payload are the same); whatever it does not
recognise, it leaves to the model (None). Both spellings: the current (CloudEvents) one
and the legacy one of events already on topics and in ledgers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phr.crypto.canonical import canonical_json, plain_canonical_json
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, EnvelopeInvalid, new_event
from phr.events.legacy import legacy_event
from phr.events.wire_form import read_wire_form

KEY = SigningKey.from_seed(bytes(range(32)))

_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)


def _json(ints: st.SearchStrategy[int]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none() | st.booleans() | ints | _text | st.floats(allow_nan=False, allow_infinity=False),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
        max_leaves=12,
    )


#: what a producer can sign (JCS refuses integers beyond 2**53)
_signable = _json(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
_data = _json(st.integers(min_value=-(2**70), max_value=2**70))
_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


def _model_form(raw: bytes) -> dict[str, Any] | None:
    try:
        return Envelope.from_json_bytes(raw).wire_json()
    except EnvelopeInvalid:
        return None


def _agrees(raw: bytes) -> bool:
    """The fast reading agrees with the model on ``raw``; True if it took it."""
    wire = read_wire_form(raw)
    model = _model_form(raw)
    if wire is None:
        return False
    assert model is not None, raw
    assert wire.json == model
    assert wire.time == Envelope.from_json_bytes(raw).time
    assert plain_canonical_json(wire.json) == canonical_json(model)
    return True


def _traceparent(raw: bytes) -> str:
    h = raw.hex()
    return f"00-{h[:32]}-{h[32:48]}-{h[48:]}"


_BASE: dict[str, Any] = {
    "key": KEY,
    "source": "owner-api",
    "type": "record.deleted",
    "subject": "p1",
    "data": {"record_id": "r1"},
}


def _event(**kw: Any) -> Envelope:
    return new_event(**(_BASE | {"schemaversion": 1} | kw))


def _legacy(**kw: Any) -> Envelope:
    return legacy_event(**(_BASE | {"schema_version": 1} | kw))


#: no timing health check: generation is slow on a loaded machine, not wrong
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=_text.filter(bool),
    data=st.dictionaries(_text, _signable, max_size=4),
    time=_times,
    version=st.integers(min_value=1, max_value=2**40),
    causation=st.none() | st.uuids(),
    correlation=st.none() | st.text(alphabet="aZ09._:/@+=-", min_size=1, max_size=128),
    trace=st.none() | st.binary(min_size=25, max_size=25).map(_traceparent),
    legacy=st.booleans(),
)
def test_every_event_a_producer_makes_agrees(
    subject: str,
    data: dict[str, Any],
    time: datetime,
    version: int,
    causation: UUID | None,
    correlation: str | None,
    trace: str | None,
    legacy: bool,
) -> None:
    if legacy:
        event = _legacy(
            subject=subject, data=data, time=time, schema_version=version, causation_id=causation
        )
    else:
        event = _event(
            subject=subject,
            data=data,
            time=time,
            schemaversion=version,
            causationid=causation,
            correlationid=correlation,
            traceparent=trace,
        )
    assert event.legacy == legacy
    raw = event.to_json_bytes()
    took = _agrees(raw)
    plain = all(k.isascii() for k in _keys(data)) and not _has_float(data)
    assert took == plain  # producers' events are taken unless data needs the reference


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(k for v in value.values() for k in _keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


_T = datetime(2026, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
_PLAIN = json.loads(_event(time=_T, causationid=UUID(int=7)).to_json_bytes())
_PLAIN_LEGACY = json.loads(_legacy(time=_T).to_json_bytes())


def _with(_base: dict[str, Any] | None = None, **changes: Any) -> bytes:
    wire = dict(_PLAIN if _base is None else _base)
    for k, v in changes.items():
        if v is _DROP:
            wire.pop(k)
        else:
            wire[k] = v
    return json.dumps(wire).encode()


_DROP = object()


@pytest.mark.parametrize(
    "raw",
    [
        _with(time="2026-05-04T03:02:01.123456+00:00"),
        _with(time="2026-05-04T03:02:01.000000Z"),
        _with(time="2026-05-04T03:02:01.1234Z"),
        _with(time="2026-05-04T05:02:01.123456+02:00"),
        _with(time="2026-02-30T03:02:01Z"),
        _with(time="2026-05-04T03:02:60Z"),
        _with(time="\u0662026-05-04T03:02:01Z"),
        _with(id=_PLAIN["id"].upper()),
        _with(id=_PLAIN["id"].replace("-", "")),
        _with(causationid=None),
        _with(causationid=""),
        _with(causationid=_PLAIN["id"] + " "),
        _with(correlationid=""),
        _with(correlationid="a b"),
        _with(correlationid="x" * 129),
        _with(correlationid=5),
        _with(traceparent=None),
        _with(traceparent="01-" + "1" * 32 + "-" + "1" * 16 + "-01"),
        _with(dataschema=""),
        _with(dataschema=_DROP),
        _with(signature=_DROP),
        _with(sigalg=_DROP),
        _with(extra="x"),
        _with(schema_version=1),
        _with(schemaversion=1.0),
        _with(schemaversion="1"),
        _with(schemaversion=True),
        _with(schemaversion=0),
        _with(schemaversion=2**53),
        _with(_PLAIN_LEGACY, causation_id=_DROP),
        _with(_PLAIN_LEGACY, causation_id=""),
        _with(_PLAIN_LEGACY, correlation_id="hosp-req-42"),
        _with(_PLAIN_LEGACY, dataschema="urn:x"),
        _with(_PLAIN_LEGACY, schema_version=1.0),
        _with(_PLAIN_LEGACY, schema_version=0),
        _with(_PLAIN_LEGACY, time="2026-05-04T03:02:01.123456+00:00"),
        _with(subject=""),
        _with(subject=5),
        _with(data={"a": 1.5}),
        _with(data={"a": 2**64}),
        _with(data={"a": 2**53}),
        _with(data={"é": 1}),
        _with(data=json.loads("[" * 40 + "]" * 40)),
        _with(data={"a": json.loads("[" * 40 + "]" * 40)}),
        _with(data=[]),
        _with(specversion="1.1"),
        b"[]",
        b"not json",
        b'{"a": NaN}',
    ],
)
def test_other_spellings_are_left_to_the_model(raw: bytes) -> None:
    assert read_wire_form(raw) is None


def test_deep_data_the_model_refuses_is_left_to_it() -> None:
    raw = _with(data={"a": json.loads("[" * 300 + "]" * 300)})
    assert orjson.loads(raw)  # orjson would read it...
    assert _model_form(raw) is None  # ...the model refuses it...
    assert read_wire_form(raw) is None  # ...so the fast reading must not take it


def test_duplicate_members_read_as_the_model_reads_them() -> None:
    raw = _with(subject="p1")[:-1] + b', "subject": "p2"}'
    assert _agrees(raw)
    assert read_wire_form(raw).json["subject"] == "p2"  # type: ignore[union-attr]


@pytest.mark.parametrize("base", [_PLAIN, _PLAIN_LEGACY], ids=["current", "legacy"])
def test_whitespace_and_member_order_do_not_matter(base: dict[str, Any]) -> None:
    wire = dict(reversed(list(base.items())))
    assert _agrees(json.dumps(wire, indent=2).encode())


_values = _data | st.sampled_from(["", "1.0", "2026-05-04T03:02:01Z"]) | st.uuids().map(str)


@settings(max_examples=500)
@given(key=st.sampled_from([*sorted(_PLAIN), "traceparent"]), value=_values)
def test_any_change_of_one_member_agrees_or_is_left_to_the_model(key: str, value: Any) -> None:
    raw = _with(**{key: value})
    _agrees(raw)  # asserts agreement whenever the fast reading takes it


@settings(max_examples=300)
@given(key=st.sampled_from(sorted(_PLAIN_LEGACY)), value=_values)
def test_any_change_of_a_legacy_member_agrees_or_is_left_to_the_model(key: str, value: Any) -> None:
    _agrees(_with(_PLAIN_LEGACY, **{key: value}))


@given(time=_times)
def test_times_in_the_models_spelling_agree(time: datetime) -> None:
    raw = _event(time=time).to_json_bytes()
    assert _agrees(raw)
    wire = read_wire_form(raw)
    assert wire is not None and wire.time - time == timedelta(0)

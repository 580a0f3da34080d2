"""The ledger's fast path: an envelope read with orjson alone, when the model would agree.

Parsing ``raw`` with :meth:`Envelope.from_json_bytes` and taking ``wire_json()``
normalises it (UUIDs in lower case, the time in UTC with ``Z`` and six or no fraction
digits, defaults filled in). Every envelope a producer made is already in that form, in
the current spelling or in the legacy one (:mod:`phr.events.legacy`), and this reads
those about twice as quickly. Anything else (missing or extra members, another spelling
of a value, floats, integers beyond 2**53, non-ASCII keys or deep nesting in ``data``,
invalid JSON) gives None: the caller then goes through the model, which decides exactly
as before. Property tests check that whenever this gives a form, the model accepts the
same bytes and gives the same form; and :func:`phr.crypto.canonical.plain_canonical_json`
applies to the form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from phr.crypto.canonical import MAX_SAFE_INT
from phr.events.envelope import (
    CORRELATION_ID_RE,
    DATA_CONTENT_TYPE,
    OPTIONAL_ATTRIBUTES,
    SIGNATURE_ALG,
    TRACEPARENT_RE,
    Envelope,
)
from phr.events.legacy import LegacyEnvelope

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?Z")
#: well below the nesting pydantic's JSON parser refuses (orjson accepts more)
_MAX_DEPTH = 32
_FIELDS = len(Envelope.model_fields)
_LEGACY_FIELDS = len(LegacyEnvelope.model_fields)
_CONSTS = ("1.0", DATA_CONTENT_TYPE, SIGNATURE_ALG)


@dataclass(frozen=True, slots=True)
class WireForm:
    """An envelope read without the model: its JSON form and its time."""

    #: equal to ``Envelope.from_json_bytes(raw).wire_json()``
    json: dict[str, Any]
    time: datetime


def _plain_data(value: Any, depth: int) -> bool:
    """:func:`phr.crypto.canonical.is_plain`, and nested at most ``_MAX_DEPTH`` deep."""
    t = type(value)
    if t is str or value is None or t is bool:
        return True
    if t is int:
        return bool(-MAX_SAFE_INT <= value <= MAX_SAFE_INT)
    if depth >= _MAX_DEPTH:
        return False
    if t is dict:
        for k, v in value.items():
            if not (k.isascii() and _plain_data(v, depth + 1)):
                return False
        return True
    if t is list:
        for v in value:
            if not _plain_data(v, depth + 1):
                return False
        return True
    return False  # a float: JCS spells it otherwise than orjson


def _is_uuid(value: Any) -> bool:
    return type(value) is str and _UUID.fullmatch(value) is not None


def _common(d: dict[str, Any]) -> bool:
    """The members both spellings share, as the model would dump them."""
    try:
        texts = (d["source"], d["type"], d["subject"], d["signer"], d["signature"])
        consts = (d["specversion"], d["datacontenttype"], d["sigalg"])
        time, data = d["time"], d["data"]
    except KeyError:
        return False
    return (
        consts == _CONSTS
        and _is_uuid(d["id"])
        and all(type(t) is str for t in texts)
        and bool(texts[0] and texts[1] and texts[2])  # min_length=1
        and type(time) is str
        and _TIME.fullmatch(time) is not None
        and not time.endswith(".000000Z")  # the model writes no fraction then
        and type(data) is dict
        and _plain_data(data, 0)
    )


def _matches(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text) is not None


def _version(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_SAFE_INT


def _current(d: dict[str, Any]) -> bool:
    present = sum(1 for name in OPTIONAL_ATTRIBUTES if name in d)
    if len(d) != _FIELDS - len(OPTIONAL_ATTRIBUTES) + present:
        return False
    try:
        schema, version, cid = d["dataschema"], d["schemaversion"], d["correlationid"]
    except KeyError:
        return False
    trace = d.get("traceparent")
    return (
        type(schema) is str
        and bool(schema)
        and _version(version)
        and type(cid) is str
        and CORRELATION_ID_RE.fullmatch(cid) is not None
        and ("causationid" not in d or _is_uuid(d["causationid"]))
        and ("traceparent" not in d or (type(trace) is str and _matches(TRACEPARENT_RE, trace)))
        and _common(d)
    )


def _legacy(d: dict[str, Any]) -> bool:
    if len(d) != _LEGACY_FIELDS:
        return False
    try:
        version, cid, cause = d["schema_version"], d["correlation_id"], d["causation_id"]
    except KeyError:
        return False
    return _version(version) and _is_uuid(cid) and (cause is None or _is_uuid(cause)) and _common(d)


def read_wire_form(raw: bytes) -> WireForm | None:
    """The envelope's JSON form when ``raw`` already is what the model would give back."""
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict:
        return None
    try:
        if not (_current(d) if "schemaversion" in d else _legacy(d)):
            return None
    except KeyError:
        return None
    try:  # a real calendar date and time of day
        when = datetime.fromisoformat(d["time"])
    except ValueError:
        return None
    return WireForm(d, when)

"""The one envelope every event travels in (CloudEvents field names), signed by its producer.

The signature is Ed25519 over the RFC 8785 canonical JSON of every field but
``signature`` itself. ``signer`` names the producer's key by the SHA-256 fingerprint of
its public key, so a verifier looks the key up in the KGC's published parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.canonical import MAX_SAFE_INT
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode

SIGNATURE_ALG: Literal["Ed25519"] = "Ed25519"


class EnvelopeInvalid(Exception):
    """Raw bytes are not a well-formed envelope, or its signature does not verify."""


class Envelope(BaseModel):
    """A signed event. Immutable: build a new one with :func:`new_event`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(description="Idempotency key: (source, id) is unique")
    source: str = Field(min_length=1, description="Producing service, e.g. owner-api")
    type: str = Field(min_length=1, description="Stable type string, e.g. acl.granted")
    schema_version: int = Field(ge=1, description="Version of the shape of `data`")
    time: AwareDatetime
    subject: str = Field(min_length=1, description="Aggregate id (patient id); the Kafka key")
    correlation_id: UUID
    causation_id: UUID | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    signer: str = Field(description="SHA-256 fingerprint (hex) of the producer's Ed25519 key")
    sigalg: Literal["Ed25519"] = SIGNATURE_ALG
    signature: str = Field(default="", description="base64url Ed25519 over the canonical bytes")

    def signing_payload(self) -> dict[str, Any]:
        """Everything the signature covers, as JSON-compatible values."""
        return self.model_dump(mode="json", exclude={"signature"})

    def to_json_bytes(self) -> bytes:
        """Wire form (structured-mode CloudEvent, UTF-8 JSON)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> Envelope:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise EnvelopeInvalid(f"not an event envelope: {exc.errors()[0]['msg']}") from exc

    def verify(self, key: VerifyKey) -> None:
        """Raise :class:`EnvelopeInvalid` unless ``key`` is the signer and the signature holds."""
        if key.fingerprint() != self.signer:
            raise EnvelopeInvalid("event signed by another key than the one given")
        try:
            key.verify_json(b64u_decode(self.signature), self.signing_payload())
        except (SignatureInvalid, ValueError) as exc:
            raise EnvelopeInvalid(f"bad signature on event {self.id}") from exc


def new_event(
    *,
    key: SigningKey,
    source: str,
    type: str,
    schema_version: int,
    subject: str,
    data: dict[str, Any],
    correlation_id: UUID | None = None,
    causation_id: UUID | None = None,
    id: UUID | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Build and sign an envelope. Prefer :meth:`phr.events.catalog.EventSpec.make`."""
    unsigned = Envelope(
        id=id or uuid4(),
        source=source,
        type=type,
        schema_version=schema_version,
        time=time or datetime.now(UTC),
        subject=subject,
        correlation_id=correlation_id or uuid4(),
        causation_id=causation_id,
        data=data,
        signer=key.verify_key.fingerprint(),
    )
    signature = key.sign_json(unsigned.signing_payload())
    return unsigned.model_copy(update={"signature": b64u_encode(signature)})


# ------------------------------------------------------------------ fast path

_FIELD_COUNT = len(Envelope.model_fields)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: id and correlation_id, then causation_id or nothing (checked in one match)
_IDS = re.compile(f"{_UUID} {_UUID}(?: {_UUID})?")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?Z")
#: well below the nesting pydantic's JSON parser refuses (orjson accepts more)
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class WireForm:
    """An envelope read without the model: its JSON form and its time."""

    #: equal to ``Envelope.from_json_bytes(raw).model_dump(mode="json")``
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


def read_wire_form(raw: bytes) -> WireForm | None:
    """The envelope's JSON form when ``raw`` already is what the model would give back.

    Parsing ``raw`` with :meth:`Envelope.from_json_bytes` and dumping it with
    ``model_dump(mode="json")`` normalises it (UUIDs in lower case, the time in UTC with
    ``Z`` and six or no fraction digits, defaults filled in). Every envelope a producer
    made with :func:`new_event` is already in that form, and this reads those with
    orjson alone, about twice as quick. Anything else (missing or extra members,
    another spelling of a value, floats, integers beyond 2**53, non-ASCII keys or deep
    nesting in ``data``, invalid JSON) gives None: the caller then goes through the
    model, which decides exactly as before. Property tests check that whenever this
    gives a form, the model accepts the same bytes and dumps the same form; and
    :func:`phr.crypto.canonical.plain_canonical_json` applies to the form.
    """
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict or len(d) != _FIELD_COUNT:
        return None
    try:  # the right number of members and each of them: exactly the model's fields
        ids = (d["id"], d["correlation_id"], d["causation_id"])
        texts = (d["source"], d["type"], d["subject"], d["signer"], d["signature"])
        consts = (d["specversion"], d["datacontenttype"], d["sigalg"])
        version, time, data = d["schema_version"], d["time"], d["data"]
    except KeyError:
        return None
    if (
        consts != ("1.0", "application/json", SIGNATURE_ALG)
        or type(ids[0]) is not str
        or type(ids[1]) is not str
        or not (ids[2] is None or type(ids[2]) is str)
        or _IDS.fullmatch(" ".join(ids) if ids[2] is not None else f"{ids[0]} {ids[1]}") is None
        or any(type(t) is not str for t in texts)
        or not (texts[0] and texts[1] and texts[2])  # min_length=1
        or type(version) is not int
        or not 1 <= version <= MAX_SAFE_INT
        or type(time) is not str
        or _TIME.fullmatch(time) is None
        or time.endswith(".000000Z")  # the model writes no fraction then
        or type(data) is not dict
        or not _plain_data(data, 0)
    ):
        return None
    try:  # a real calendar date and time of day
        when = datetime.fromisoformat(time)
    except ValueError:
        return None
    return WireForm(d, when)

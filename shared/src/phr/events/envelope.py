"""The one envelope every event travels in: a CloudEvent 1.0, signed by its producer.

Attribute names follow CloudEvents 1.0 to the letter (extension names are lowercase
letters and digits only). On Kafka the envelope travels in the binding's *structured*
content mode: the whole envelope is the record value (JSON event format, header
``content-type: application/cloudevents+json``), the record key is ``subject``. See
docs/events.md.

The signature is Ed25519 over the RFC 8785 canonical JSON of every attribute but
``signature`` itself, in the spelling the producer wrote (an absent optional attribute
is absent, not null). ``signer`` names the producer's key by the SHA-256 fingerprint of
its public key, so a verifier looks the key up in the KGC's published parameters.

Envelopes written before the CloudEvents names (``schema_version``, ``correlation_id``,
``causation_id``: see :mod:`phr.events.legacy`) are read too and upcast to this model;
they keep their original spelling for their signature, their ledger leaf and their wire
form, so nothing already signed or chained changes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey, b64u_decode, b64u_encode

if TYPE_CHECKING:
    from phr.events.legacy import LegacyEnvelope

SIGNATURE_ALG: Literal["Ed25519"] = "Ed25519"
#: the media type of ``data``; the record's content-type is the event format's
DATA_CONTENT_TYPE: Literal["application/json"] = "application/json"
#: Kafka ``content-type`` of every record: the CloudEvents JSON event format
CLOUDEVENTS_JSON = "application/cloudevents+json"

#: An opaque correlation id (a caller's own request id is welcome): bounded length and
#: a charset safe in headers, logs and JSON. Never parsed as a UUID.
CORRELATION_ID_CHARS = r"[A-Za-z0-9._:/@+=-]"
CORRELATION_ID_MAX = 128
CORRELATION_ID_RE = re.compile(f"{CORRELATION_ID_CHARS}{{1,{CORRELATION_ID_MAX}}}")
#: W3C Trace Context ``traceparent`` (version 00), the CloudEvents distributed-tracing
#: extension (the all-zero ids W3C calls invalid are refused by :func:`safe_traceparent`)
TRACEPARENT_RE = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_ZERO_IDS = re.compile(r"00-(?:0{32}-.*|.{32}-0{16}-.*)")
#: ``dataschema`` of every event: ``urn:phr:schema:<type>:v<version>``, resolved in this
#: repository to docs/schemas/<type>.v<version>.json (see docs/events.md)
DATASCHEMA_PREFIX = "urn:phr:schema:"
#: attributes left out of the wire form when unset (CloudEvents: absent, never null)
OPTIONAL_ATTRIBUTES = ("causationid", "traceparent")


def dataschema_uri(type: str, version: int) -> str:
    """The ``dataschema`` URI of (type, version)."""
    return f"{DATASCHEMA_PREFIX}{type}:v{version}"


def dataschema_path(uri: str) -> str:
    """The repository path a ``dataschema`` URI resolves to (docs/schemas/...)."""
    if not uri.startswith(DATASCHEMA_PREFIX):
        raise ValueError(f"not a PHR dataschema URI: {uri!r}")
    type, sep, version = uri[len(DATASCHEMA_PREFIX) :].rpartition(":v")
    if not (sep and type and version.isdigit()):
        raise ValueError(f"not a PHR dataschema URI: {uri!r}")
    return f"docs/schemas/{type}.v{version}.json"


class EnvelopeInvalid(Exception):
    """Raw bytes are not a well-formed envelope, or its signature does not verify."""


class Envelope(BaseModel):
    """A signed event. Immutable: build a new one with :func:`new_event`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(description="Idempotency key: (source, id) is unique")
    source: str = Field(min_length=1, description="Producing service, e.g. owner-api")
    type: str = Field(min_length=1, description="Stable type string, e.g. acl.granted")
    subject: str = Field(min_length=1, description="Aggregate id (patient id); the Kafka key")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = DATA_CONTENT_TYPE
    dataschema: str = Field(min_length=1, description="URI of the JSON Schema of `data`")
    schemaversion: int = Field(ge=1, description="Version of the shape of `data` (extension)")
    correlationid: str = Field(
        pattern=f"^{CORRELATION_ID_RE.pattern}$",
        description="Opaque id of the flow this event belongs to (extension)",
    )
    causationid: UUID | None = Field(
        default=None, description="Id of the event that caused this one (extension)"
    )
    traceparent: str | None = Field(
        default=None,
        pattern=f"^{TRACEPARENT_RE.pattern}$",
        description="W3C trace context of the producing span (distributed-tracing extension)",
    )
    data: dict[str, Any]
    signer: str = Field(description="SHA-256 fingerprint (hex) of the producer's Ed25519 key")
    sigalg: Literal["Ed25519"] = SIGNATURE_ALG
    signature: str = Field(default="", description="base64url Ed25519 over the canonical bytes")

    #: the envelope as its producer spelled it, when that was the pre-CloudEvents spelling
    _legacy: LegacyEnvelope | None = PrivateAttr(default=None)

    @property
    def legacy(self) -> bool:
        """True if the producer wrote the pre-CloudEvents spelling (read, never written)."""
        return self._legacy is not None

    def _unset(self) -> set[str]:
        return {name for name in OPTIONAL_ATTRIBUTES if getattr(self, name) is None}

    def wire_json(self) -> dict[str, Any]:
        """The JSON form in the producer's spelling: what is signed (with the signature)
        and what the ledger chains."""
        if self._legacy is not None:
            return self._legacy.model_dump(mode="json")
        return self.model_dump(mode="json", exclude=self._unset())

    def signing_payload(self) -> dict[str, Any]:
        """Everything the signature covers, as JSON-compatible values."""
        payload = self.wire_json()
        del payload["signature"]
        return payload

    def to_json_bytes(self) -> bytes:
        """Wire form: the Kafka record value (structured-mode CloudEvent, UTF-8 JSON)."""
        if self._legacy is not None:
            return self._legacy.model_dump_json().encode()
        return self.model_dump_json(exclude=self._unset()).encode()

    @classmethod
    def from_json_bytes(cls, raw: bytes | str) -> Envelope:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            from phr.events.legacy import read_legacy

            event = read_legacy(raw)
            if event is None:
                raise EnvelopeInvalid(f"not an event envelope: {exc.errors()[0]['msg']}") from exc
            return event

    def verify(self, key: VerifyKey) -> None:
        """Raise :class:`EnvelopeInvalid` unless ``key`` is the signer and the signature holds."""
        if key.fingerprint() != self.signer:
            raise EnvelopeInvalid("event signed by another key than the one given")
        try:
            key.verify_json(b64u_decode(self.signature), self.signing_payload())
        except (SignatureInvalid, ValueError) as exc:
            raise EnvelopeInvalid(f"bad signature on event {self.id}") from exc


def safe_correlation_id(value: object) -> str:
    """``value`` if it is a well-formed correlation id, else a new one (never an error)."""
    text = str(value) if isinstance(value, str | UUID) else ""
    return text if CORRELATION_ID_RE.fullmatch(text) else str(uuid4())


def safe_traceparent(value: object) -> str | None:
    """``value`` if it is a well-formed W3C traceparent, else None."""
    if not isinstance(value, str) or TRACEPARENT_RE.fullmatch(value) is None:
        return None
    return None if _ZERO_IDS.fullmatch(value) else value


def new_event(
    *,
    key: SigningKey,
    source: str,
    type: str,
    schemaversion: int,
    subject: str,
    data: dict[str, Any],
    correlationid: str | UUID | None = None,
    causationid: UUID | None = None,
    traceparent: str | None = None,
    id: UUID | None = None,
    time: datetime | None = None,
) -> Envelope:
    """Build and sign an envelope. Prefer :meth:`phr.events.catalog.EventSpec.make`.

    A malformed ``correlationid`` is replaced by a new one and a malformed
    ``traceparent`` dropped: ids from outside never make an event fail.
    """
    unsigned = Envelope(
        id=id or uuid4(),
        source=source,
        type=type,
        subject=subject,
        time=time or datetime.now(UTC),
        dataschema=dataschema_uri(type, schemaversion),
        schemaversion=schemaversion,
        correlationid=safe_correlation_id(correlationid),
        causationid=causationid,
        traceparent=safe_traceparent(traceparent),
        data=data,
        signer=key.verify_key.fingerprint(),
    )
    signature = key.sign_json(unsigned.signing_payload())
    return unsigned.model_copy(update={"signature": b64u_encode(signature)})

"""The one envelope every event travels in (CloudEvents field names), signed by its producer.

The signature is Ed25519 over the RFC 8785 canonical JSON of every field but
``signature`` itself. ``signer`` names the producer's key by the SHA-256 fingerprint of
its public key, so a verifier looks the key up in the KGC's published parameters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

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

"""Envelopes in the spelling of before CloudEvents names (read, upcast, never written).

Until 2026-12 producers wrote ``schema_version``, ``correlation_id`` (a UUID) and
``causation_id`` (always present, possibly null), names the CloudEvents spec forbids for
extensions, and no ``dataschema``. Such events are still on topics, in outboxes and in
every ledger. They are read here into the current :class:`Envelope` (the upcast: the
names renamed, ``dataschema`` derived from type and version), while the envelope keeps
the original for what its producer signed: the signed payload, the ledger leaf and the
wire form stay byte for byte what they were.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.envelope import SIGNATURE_ALG, Envelope, dataschema_uri

#: the pre-CloudEvents names and the names they became
RENAMED = {
    "schema_version": "schemaversion",
    "correlation_id": "correlationid",
    "causation_id": "causationid",
}


class LegacyEnvelope(BaseModel):
    """The envelope model as it was (field for field, order and defaults included)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: UUID
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    schema_version: int = Field(ge=1)
    time: AwareDatetime
    subject: str = Field(min_length=1)
    correlation_id: UUID
    causation_id: UUID | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    signer: str
    sigalg: Literal["Ed25519"] = SIGNATURE_ALG
    signature: str = ""


def upcast(legacy: LegacyEnvelope) -> Envelope:
    """The current envelope of a legacy one; it keeps the legacy spelling for signing."""
    form = legacy.model_dump()
    attrs = {RENAMED.get(k, k): v for k, v in form.items()}
    attrs["correlationid"] = str(legacy.correlation_id)
    attrs["dataschema"] = dataschema_uri(legacy.type, legacy.schema_version)
    event = Envelope.model_validate(attrs)
    event._legacy = legacy  # noqa: SLF001 - the one writer of the original spelling
    return event


def read_legacy(raw: bytes | str) -> Envelope | None:
    """The upcast envelope if ``raw`` is a legacy envelope, else None."""
    try:
        return upcast(LegacyEnvelope.model_validate_json(raw))
    except ValidationError:
        return None


def legacy_event(
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
    """An envelope signed in the legacy spelling, as producers made them before.

    For tests and migration checks only: no producer writes this spelling any more.
    """
    unsigned = LegacyEnvelope(
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
    payload = unsigned.model_dump(mode="json", exclude={"signature"})
    signed = unsigned.model_copy(update={"signature": b64u_encode(key.sign_json(payload))})
    return upcast(signed)

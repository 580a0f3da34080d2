"""The catalog of event types: (type, schemaversion) -> data model and topic.

Rules: an additive optional field keeps the version. A breaking change adds a new model
with the next version plus an upcaster from the previous one, so handlers only ever see
the newest version. Types are stable strings, never Python class paths.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from phr.crypto.signing import SigningKey
from phr.events import access, acl, records, system, users
from phr.events.base import EventData
from phr.events.envelope import Envelope, EnvelopeInvalid, new_event

#: Kafka topics, one per aggregate family. Keys are the envelope's subject.
TOPIC_USERS = "phr.users"
#: Revocations get a topic of their own: every service process reads it (its token
#: revocation list), and on Tansu each reader of a busy topic slows that topic's
#: producers, so the readers of this tiny stream must not sit on phr.users.
TOPIC_REVOCATIONS = "phr.revocations"
TOPIC_RECORDS = "phr.records"
TOPIC_ACL = "phr.acl"
TOPIC_ACCESS = "phr.access"
TOPIC_SYSTEM = "phr.system"
#: the ledger's single-partition ordering topic: every event of TOPICS, copied by the
#: relay (with a ``phr-origin`` header), and the ledger's own block-cut markers
TOPIC_LEDGER_SEQUENCE = "phr.ledger.sequence"
#: records the ledger refused (the rejected bytes, unchanged, with the reason in headers)
TOPIC_DEADLETTER = "phr.deadletter"
#: the header the relay adds on the sequence topic: ``topic/partition/offset`` of the copy
ORIGIN_HEADER = "phr-origin"
#: the headers of a dead-letter record (values: UTF-8 text)
DEADLETTER_HEADERS = {
    "phr-reason": "Why the ledger refused the record",
    "phr-sequence-offset": "Offset of the record on the sequence topic",
    "phr-replica": "Consumer group of the ledger replica that refused it",
}

TOPICS: dict[str, str] = {
    TOPIC_USERS: "Enrolment, approval and tracing of users, and organisations (KGC)",
    TOPIC_REVOCATIONS: "User revocations (KGC); read by every service for its token checks",
    TOPIC_RECORDS: "Records uploaded and deleted (owner-api)",
    TOPIC_ACL: "Grants, revocations, key rotations and delegations (owner-api)",
    TOPIC_ACCESS: "Access requests, decisions and break-glass (user-api, SRS nodes)",
    TOPIC_SYSTEM: "Service lifecycle",
}
#: the ledger's topics (not relayed): the sequence topic and the dead letters
LEDGER_TOPICS: dict[str, str] = {
    TOPIC_LEDGER_SEQUENCE: "Every event in one order (copied by the ledger relay) and the "
    "ledger's block-cut markers; the ledger replicas chain what they read here",
    TOPIC_DEADLETTER: "Records the ledger refused, unchanged, with the reason",
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class EventSpec:
    """One (type, version) of the catalog."""

    type: str
    version: int
    model: builtins.type[EventData]
    topic: str
    summary: str
    #: turns data of this version into data of version + 1 (None for the newest)
    upcast: Upcaster | None = None
    #: False once no service writes it any more: still read (events of it may remain on
    #: its topic and in the ledger), never published (the e2e conformance test expects
    #: every produced spec on the wire, and only those in the AsyncAPI send operations)
    produced: bool = True

    def make(
        self,
        data: EventData,
        *,
        key: SigningKey,
        source: str,
        subject: str,
        correlation_id: str | UUID | None = None,
        causation_id: UUID | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        """A signed envelope of this type holding ``data`` (malformed outside ids are
        replaced or dropped, never an error: see :func:`new_event`)."""
        if not isinstance(data, self.model):
            raise TypeError(f"{self.type} takes {self.model.__name__}, not {type(data).__name__}")
        return new_event(
            key=key,
            source=source,
            type=self.type,
            schemaversion=self.version,
            subject=subject,
            data=data.model_dump(mode="json"),
            correlationid=correlation_id,
            causationid=causation_id,
            traceparent=traceparent,
        )


_SPECS: tuple[EventSpec, ...] = (
    EventSpec(
        "user.enrolled",
        1,
        users.UserEnrolledV1,
        TOPIC_USERS,
        "A user enrolled (fingerprints only)",
        upcast=users.upcast_enrolled_v1_to_v2,
        produced=False,
    ),
    EventSpec(
        "user.enrolled", 2, users.UserEnrolled, TOPIC_USERS, "A user enrolled, public keys and all"
    ),
    EventSpec("user.approved", 1, users.UserApproved, TOPIC_USERS, "A pending staff user approved"),
    EventSpec(
        "user.revoked", 1, users.UserRevoked, TOPIC_REVOCATIONS, "A user's credentials revoked"
    ),
    EventSpec("user.traced", 1, users.UserTraced, TOPIC_USERS, "A leaked key traced to a user"),
    EventSpec(
        "organisation.created",
        1,
        users.OrganisationCreated,
        TOPIC_USERS,
        "An organisation created (KGC)",
    ),
    EventSpec("record.uploaded", 1, records.RecordUploaded, TOPIC_RECORDS, "A record stored"),
    EventSpec("record.deleted", 1, records.RecordDeleted, TOPIC_RECORDS, "A record deleted"),
    EventSpec("acl.granted", 1, acl.AclGranted, TOPIC_ACL, "Segments granted, sealed kfrags"),
    EventSpec("acl.revoked", 1, acl.AclRevoked, TOPIC_ACL, "A grant revoked"),
    EventSpec("key.rotated", 1, acl.KeyRotated, TOPIC_ACL, "A segment key moved to a version"),
    EventSpec("delegation.changed", 1, acl.DelegationChanged, TOPIC_ACL, "Delegation set or ended"),
    EventSpec("access.requested", 1, access.AccessRequested, TOPIC_ACCESS, "Access asked for"),
    EventSpec(
        "access.decided",
        1,
        access.AccessDecided,
        TOPIC_ACCESS,
        "An SRS node's decision, per request",
    ),
    # one event per segment and node, replaced by access.decided (one per request and node)
    EventSpec(
        "access.granted",
        1,
        access.AccessGranted,
        TOPIC_ACCESS,
        "(old) one segment re-encrypted",
        produced=False,
    ),
    EventSpec(
        "access.denied",
        1,
        access.AccessDenied,
        TOPIC_ACCESS,
        "(old) one segment refused",
        produced=False,
    ),
    EventSpec(
        "access.breakglass", 1, access.AccessBreakglass, TOPIC_ACCESS, "Emergency access opened"
    ),
    EventSpec("service.started", 1, system.ServiceStarted, TOPIC_SYSTEM, "A service came up"),
    EventSpec("ledger.cut", 1, system.BlockCut, TOPIC_LEDGER_SEQUENCE, "Ledger block-cut marker"),
)

CATALOG: dict[tuple[str, int], EventSpec] = {(s.type, s.version): s for s in _SPECS}
_LATEST: dict[str, EventSpec] = {}
for _spec in _SPECS:
    if _spec.type not in _LATEST or _spec.version > _LATEST[_spec.type].version:
        _LATEST[_spec.type] = _spec


def spec_for(type: str) -> EventSpec:
    """The newest spec of an event type."""
    try:
        return _LATEST[type]
    except KeyError:
        raise EnvelopeInvalid(f"unknown event type {type!r}") from None


def event_types() -> list[str]:
    return sorted(_LATEST)


def produced_specs() -> list[EventSpec]:
    """The (type, version)s services still publish (each the newest of its type)."""
    return [s for s in _SPECS if s.produced]


def parse_data(envelope: Envelope) -> EventData:
    """The envelope's data as the newest model of its type, upcasting older versions."""
    spec = CATALOG.get((envelope.type, envelope.schemaversion))
    if spec is None:
        raise EnvelopeInvalid(f"unknown event {envelope.type} v{envelope.schemaversion}")
    data = dict(envelope.data)
    while spec.upcast is not None:
        data = spec.upcast(data)
        spec = CATALOG[(spec.type, spec.version + 1)]
    try:
        return spec.model.model_validate(data)
    except ValueError as exc:
        raise EnvelopeInvalid(f"{envelope.type} v{spec.version}: {exc}") from exc

"""Event handlers of one node: grants, revocations, rotations, delegations, users, records.

The consumer (:mod:`phr.service.consumer`) calls :meth:`EventHandlers.__call__` inside a
Mongo transaction that also records the event id, so every write here takes the
session and a redelivered event changes nothing. The handlers are idempotent on their
own too (upserts, deletes), so replaying one is harmless even without that record.

Before a handler runs, :func:`producer_verifier` checks the envelope's signature with
the registry's key of the only producer allowed for its type (owner-api for ``acl.*``,
``key.rotated``, ``delegation.changed`` and ``record.*``; the KGC for ``user.*``). A
forged envelope never reaches a handler: the consumer logs and counts it. A grant whose
documents fail the checks of :mod:`srs.verification` is kept out entirely and counted
in ``rejected_events``; one whose author is not enrolled here yet waits in
``pending_grants`` and is checked again when the KGC's enrolment (or a delegation)
arrives, because ``user.*`` and ``acl.*`` travel on different topics with no order
between them.

What each event does:

- ``acl.granted``: verified, then this node's sealed kfrag (never another node's) and
  the grant's metadata are kept; the same ``grant_id`` again (after a key rotation)
  adds key grants for the new version. A grant id already revoked stays revoked.
- ``acl.revoked``: the grant's kfrags are deleted at once; the grant stays as revoked.

Every id an event names (grant, record, delegation) is the patient's own: the store keys
it with the event's patient, so no event of one patient reaches another's objects. A
revocation or deletion naming an id this node knows only under another patient changes
nothing and is counted in ``rejected_events`` (owner-api never sends one: its ids are
per patient too, so such an event is a forgery or a bug worth seeing).
- ``user.revoked``: the user is denied from then on and every grant to him is revoked.
- ``delegation.changed``: who may sign grants for which segments of the patient
  (grants a delegate made earlier stay until the patient revokes them).
- ``key.rotated``: the patient's newest key version per segment (informational: the
  key grants that matter come with the following ``acl.granted``).
- ``record.uploaded``: record -> patient, upload time and capsule per segment (requests
  re-encrypt this capsule, never one a requester brings); ``record.deleted`` denies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from phr.api.ids import segment_version
from phr.crypto.signing import VerifyKey
from phr.events.acl import AclGranted, AclRevoked, DelegationChanged, KeyRotated
from phr.events.base import EventData
from phr.events.catalog import parse_data
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.events.records import RecordDeleted, RecordUploaded
from phr.events.users import UserEnrolled, UserRevoked
from phr.service.producers import KGC, OWNER_API
from phr.service.producers import producer_verifier as verify_producers
from srs.errors import AuthorUnknown, GrantRejected
from srs.models import (
    Delegation,
    GrantInfo,
    PendingGrant,
    RecordInfo,
    SegmentCapsule,
    UserInfo,
    as_utc,
)
from srs.store import IdKind, Session, Store
from srs.verification import NodeIdentity, verify_acl_grant

log = structlog.get_logger("srs.handlers")

#: the only producer each consumed type may come from
PRODUCERS: Final[Mapping[str, str]] = {
    "acl.granted": OWNER_API,
    "acl.revoked": OWNER_API,
    "key.rotated": OWNER_API,
    "delegation.changed": OWNER_API,
    "record.uploaded": OWNER_API,
    "record.deleted": OWNER_API,
    "user.enrolled": KGC,
    "user.revoked": KGC,
}
SRS_TYPES: Final = frozenset(PRODUCERS)
GRANTEE_REVOKED: Final = "grantee revoked"


def producer_verifier(keys: Mapping[str, VerifyKey]) -> Callable[[Envelope], Awaitable[None]]:
    """A consumer ``verify`` hook: the right producer (:data:`PRODUCERS`), and its signature."""
    return verify_producers(keys, PRODUCERS)


@dataclass
class HandlerStats:
    """Counters since start (``GET /v1/node`` shows them); persisted ones live in Mongo."""

    applied: int = 0
    rejected_envelopes: int = 0
    rejected_grants: int = 0
    pending_grants: int = 0
    ignored: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


class EventHandlers:
    """Applies verified events to this node's store."""

    def __init__(
        self,
        store: Store,
        node: NodeIdentity,
        *,
        clock: Callable[[], datetime] = _now,
        stats: HandlerStats | None = None,
    ) -> None:
        self.store = store
        self.node = node
        self.clock = clock
        self.stats = stats or HandlerStats()
        self._dispatch: dict[str, Callable[[Envelope, Any, Session | None], Awaitable[None]]] = {
            "acl.granted": self._granted,
            "acl.revoked": self._revoked,
            "key.rotated": self._rotated,
            "delegation.changed": self._delegation,
            "user.enrolled": self._enrolled,
            "user.revoked": self._user_revoked,
            "record.uploaded": self._uploaded,
            "record.deleted": self._deleted,
        }

    async def __call__(self, event: Envelope, session: Session | None) -> None:
        handler = self._dispatch.get(event.type)
        if handler is None:
            self.stats.ignored += 1
            return
        try:
            data: EventData = parse_data(event)
        except EnvelopeInvalid:
            # Well signed but not of the catalog's shape: refuse it, never retry it forever.
            # (The validation message may quote field values, a sealed kfrag among them:
            # it is not logged.)
            self.stats.ignored += 1
            reason = "data does not match the event's schema"
            await self.store.record_rejection(
                str(event.id), event.type, reason, self.clock(), session
            )
            log.warning("event.malformed_data", reason=reason)
            return
        await handler(event, data, session)
        self.stats.applied += 1

    async def on_reject(self, _record: object, reason: str) -> None:
        """The consumer's hook for envelopes that fail parsing or their signature (the
        consumer has logged it already)."""
        self.stats.rejected_envelopes += 1

    # ------------------------------------------------------------ grants

    async def _granted(self, event: Envelope, data: AclGranted, session: Session | None) -> None:
        outcome = await self._apply_grant(str(event.id), data, event.time, session)
        if outcome == "pending":
            await self.store.add_pending(
                PendingGrant(
                    event_id=str(event.id),
                    patient_id=data.patient_id,
                    grant_id=data.grant_id,
                    data=self._only_this_node(data).model_dump(mode="json"),
                    received_at=self.clock(),
                ),
                session,
            )
            self.stats.pending_grants += 1
            log.info("grant.pending", grant_id=data.grant_id, patient_id=data.patient_id)

    def _only_this_node(self, data: AclGranted) -> AclGranted:
        """The event without other nodes' sealed kfrags (this node keeps only its own)."""
        me = self.node.node_id
        key_grants = [
            kg.model_copy(
                update={"sealed_kfrags": {k: v for k, v in kg.sealed_kfrags.items() if k == me}}
            )
            for kg in data.key_grants
        ]
        return data.model_copy(update={"key_grants": key_grants})

    async def _apply_grant(
        self, event_id: str, data: AclGranted, event_time: datetime, session: Session | None
    ) -> str:
        """'applied', 'rejected', 'ignored' or 'pending' (author not enrolled here yet)."""
        existing = await self.store.get_grant(data.patient_id, data.grant_id, session)
        if existing is not None and existing.revoked:
            self.stats.ignored += 1
            log.info("grant.ignored_revoked", grant_id=data.grant_id)
            return "ignored"
        try:
            if existing is not None and (
                existing.grantee_user_id != data.grantee_user_id
                or existing.grantee_group != data.grantee_group
                or existing.emergency != data.emergency
            ):
                raise GrantRejected("grant id reused for another grantee or kind")
            if data.grantee_user_id is not None:
                grantee = await self.store.get_user(data.grantee_user_id, session)
                if grantee is not None and grantee.revoked:
                    raise GrantRejected("grantee is revoked")
            patient = await self.store.get_user(data.patient_id, session)
            delegations = await self.store.delegations(data.patient_id, session)
            users: dict[str, UserInfo] = {}
            for d in delegations:
                if d.active and (user := await self.store.get_user(d.delegate_user_id, session)):
                    users[user.user_id] = user
            verified = verify_acl_grant(
                data, self.node, patient=patient, delegations=delegations, users=users
            )
        except AuthorUnknown:
            return "pending"
        except GrantRejected as exc:
            self.stats.rejected_grants += 1
            await self.store.record_rejection(
                event_id, "acl.granted", str(exc), self.clock(), session
            )
            log.warning(
                "grant.rejected",
                grant_id=data.grant_id,
                patient_id=data.patient_id,
                reason=str(exc),
            )
            return "rejected"
        new_versions = frozenset((kg.segment, kg.key_version) for kg in verified.key_grants)
        grant = GrantInfo(
            grant_id=data.grant_id,
            patient_id=data.patient_id,
            segments=tuple(sorted(set(data.segments) | set(existing.segments if existing else ()))),
            threshold=data.threshold,
            granted_by=data.granted_by,
            grantee_user_id=data.grantee_user_id,
            grantee_group=data.grantee_group,
            not_before=_later(existing.not_before if existing else None, verified.not_before),
            expires_at=_earlier(existing.expires_at if existing else None, verified.expires_at),
            data_from=as_utc(data.data_from),
            purpose=data.purpose,
            emergency=data.emergency,
            on_behalf_of=data.on_behalf_of,
            key_versions=new_versions | (existing.key_versions if existing else frozenset()),
            created_at=existing.created_at if existing and existing.created_at else event_time,
        )
        await self.store.put_grant(grant, verified.key_grants, session)
        log.info(
            "grant.stored",
            grant_id=data.grant_id,
            patient_id=data.patient_id,
            key_versions=sorted(segment_version(s, v) for s, v in new_versions),
            emergency=data.emergency,
        )
        return "applied"

    async def _retry_pending(self, patient_id: str, session: Session | None) -> None:
        """Check again the grants that waited for this patient's (or a delegate's) key."""
        for pending in await self.store.pending_for_patient(patient_id, session):
            data = AclGranted.model_validate(pending.data)
            outcome = await self._apply_grant(pending.event_id, data, pending.received_at, session)
            if outcome != "pending":
                await self.store.drop_pending(pending.event_id, session)
                self.stats.pending_grants = max(0, self.stats.pending_grants - 1)
                log.info("grant.pending_resolved", grant_id=data.grant_id, outcome=outcome)

    async def _revoked(self, event: Envelope, data: AclRevoked, session: Session | None) -> None:
        # A grant still pending (its author's enrolment not seen yet: topics interleave
        # differently on a replay) leaves its segments on the tombstone, so every node
        # ends in the same state whatever the interleaving.
        pending = [
            p
            for p in await self.store.pending_for_patient(data.patient_id, session)
            if p.data.get("grant_id") == data.grant_id
        ]
        segments = tuple(pending[0].data.get("segments", ())) if pending else ()
        if not pending and await self._names_anothers(
            event, "grant", data.grant_id, data.patient_id, session
        ):
            return
        deleted = await self.store.revoke_grant(
            data.patient_id,
            data.grant_id,
            at=self.clock(),
            reason=f"revoked by {data.revoked_by}",
            segments=segments,
            session=session,
        )
        log.info("grant.revoked", grant_id=data.grant_id, key_grants_deleted=deleted)

    async def _names_anothers(
        self,
        event: Envelope,
        kind: IdKind,
        object_id: str,
        patient_id: str,
        session: Session | None,
    ) -> bool:
        """True (and the event counted as rejected) if ``object_id`` is unknown for this
        patient but known for another: the event then changes nothing."""
        known = (
            await self.store.get_grant(patient_id, object_id, session)
            if kind == "grant"
            else await self.store.get_record(patient_id, object_id)
        )
        if known is not None or not await self.store.owned_by_another(
            kind, object_id, patient_id, session
        ):
            return False
        reason = f"{kind} id belongs to another patient"
        if kind == "grant":
            self.stats.rejected_grants += 1
        await self.store.record_rejection(str(event.id), event.type, reason, self.clock(), session)
        log.warning(
            "event.cross_patient_id", type=event.type, patient_id=patient_id, object_id=object_id
        )
        return True

    async def _rotated(self, event: Envelope, data: KeyRotated, session: Session | None) -> None:
        await self.store.set_key_version(data.patient_id, data.segment, data.new_version, session)
        log.info(
            "key.rotation_noted",
            patient_id=data.patient_id,
            segment=data.segment,
            version=data.new_version,
        )

    async def _delegation(
        self, event: Envelope, data: DelegationChanged, session: Session | None
    ) -> None:
        await self.store.put_delegation(
            Delegation(
                delegation_id=data.delegation_id,
                patient_id=data.patient_id,
                delegate_user_id=data.delegate_user_id,
                segments=tuple(data.segments),
                active=data.active,
            ),
            session,
        )
        log.info("delegation.stored", delegation_id=data.delegation_id, active=data.active)
        if data.active:
            await self._retry_pending(data.patient_id, session)

    # ------------------------------------------------------------ users

    async def _enrolled(self, event: Envelope, data: UserEnrolled, session: Session | None) -> None:
        await self.store.put_user(
            UserInfo(
                user_id=data.user_id,
                role=data.role,
                ed25519_fp=data.ed25519_fingerprint,
                org=data.organisation_id,
                dept=data.department,
            ),
            session,
        )
        await self._retry_pending(data.user_id, session)
        for patient_id in await self.store.patients_delegating_to(data.user_id, session):
            await self._retry_pending(patient_id, session)

    async def _user_revoked(
        self, event: Envelope, data: UserRevoked, session: Session | None
    ) -> None:
        await self.store.revoke_user(data.user_id, session)
        grants = await self.store.grants_to_user(data.user_id, session)
        for grant in grants:
            await self.store.revoke_grant(
                grant.patient_id,
                grant.grant_id,
                at=self.clock(),
                reason=GRANTEE_REVOKED,
                session=session,
            )
        log.info("user.denied", user_id=data.user_id, grants_revoked=len(grants))

    # ------------------------------------------------------------ records

    async def _uploaded(
        self, event: Envelope, data: RecordUploaded, session: Session | None
    ) -> None:
        segments = tuple(
            SegmentCapsule(s.segment, s.key_version, s.capsule)
            for s in data.segments
            if s.capsule is not None
        )
        await self.store.put_record(
            RecordInfo(
                record_id=data.record_id,
                patient_id=data.patient_id,
                segments=segments,
                # owner-api's signed event time when the producer omits the upload time
                uploaded_at=as_utc(data.uploaded_at) or event.time,
            ),
            session,
        )
        log.info("record.noted", record_id=data.record_id, segments=len(segments))

    async def _deleted(self, event: Envelope, data: RecordDeleted, session: Session | None) -> None:
        if await self._names_anothers(event, "record", data.record_id, data.patient_id, session):
            return
        await self.store.delete_record(data.patient_id, data.record_id, self.clock(), session)
        log.info("record.denied", record_id=data.record_id)

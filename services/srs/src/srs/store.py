"""The persistence contract of one node (its own Mongo database), and its collections.

Collections:

- ``users``: ``{_id: user_id, role, org, dept, ed25519_fp, revoked}`` from KGC events;
- ``delegations``: ``{_id: {p: patient, d: delegation}, delegation_id, patient_id,
  delegate_user_id, segments, active}``;
- ``grants``: ``{_id: {p: patient, g: grant}, grant_id, patient_id, ...}``, grant
  metadata, never a kfrag (a revoked grant stays as a tombstone, so a late copy of its
  grant event cannot bring it back);
- ``key_grants``: ``{_id: {p, g, s: segment, v: version}, signed_grant, sealed_kfrag}``,
  this node's sealed kfrag only; deleted on revocation, not flagged;
- ``pending_grants``: grant events whose author is not enrolled here yet;
- ``records``: ``{_id: {p: patient, r: record}, record_id, patient_id, ...}``: upload
  time, per-segment capsule; deletion tombstone;
- ``rejected_events``: grant events refused, with the reason (the count is a metric);
- ``breakglass_windows``: ``{_id: "<requester>|<patient>", opened_at, reason}``;
- ``key_versions``: ``{_id: "<patient>|<segment>", version}``, the newest from key.rotated.

Ids a client chooses (grant, record, delegation) are scoped by their patient: every key
is the pair (patient, id), as a sub-document so no separator can make two pairs meet, and
no write or read names an id alone. Another patient using the same id reaches only his
own objects (issue 19, H1 and H2).

Every write an event handler makes takes that handler's session, so the state change
and the consumer's processed-event record commit together.

Implementations: :class:`srs.mongo_store.MongoStore`, :class:`srs.memory.MemoryStore`;
``tests/contracts/test_srs_store.py`` holds both to the contract written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession

from srs.models import Delegation, GrantInfo, KeyGrant, PendingGrant, RecordInfo, UserInfo

#: a handler's transaction (the memory store ignores it)
Session = AsyncClientSession
Document = dict[str, Any]


class Store(Protocol):
    """What the handlers and the re-encryption use case need; Mongo or memory behind it.

    Reads return what the last write left; ``session`` puts a write into the caller's
    transaction. Times are aware UTC, kept to the millisecond. Client-chosen ids
    (grant, record, delegation) are always scoped by their patient.
    """

    async def get_user(self, user_id: str, session: Session | None = None) -> UserInfo | None:
        """The user as last announced, or None if never heard of."""
        ...

    async def put_user(self, user: UserInfo, session: Session | None = None) -> None:
        """Store the user's attributes; a revocation is final: a later put (a re-enrolment
        or a redelivered enrolment) never clears it."""
        ...

    async def revoke_user(self, user_id: str, session: Session | None = None) -> None:
        """Mark the user revoked, known or not (an unknown one is kept as revoked)."""
        ...

    async def put_delegation(self, d: Delegation, session: Session | None = None) -> None:
        """Store or replace the patient's delegation of that id (ending one stores
        ``active=False``)."""
        ...

    async def delegations(
        self, patient_id: str, session: Session | None = None
    ) -> list[Delegation]:
        """Every delegation of the patient, active or not, in no particular order."""
        ...

    async def patients_delegating_to(
        self, user_id: str, session: Session | None = None
    ) -> list[str]:
        """Sorted ids of the patients with an *active* delegation to ``user_id``."""
        ...

    async def get_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> GrantInfo | None:
        """The patient's grant (or its revocation tombstone), or None."""
        ...

    async def put_grant(
        self, grant: GrantInfo, key_grants: Iterable[KeyGrant], session: Session | None = None
    ) -> None:
        """Store or replace the grant and add or replace its key grants (by patient,
        grant, segment and key version); ValueError for a key grant of another grant."""
        ...

    async def revoke_grant(
        self,
        patient_id: str,
        grant_id: str,
        *,
        at: datetime,
        reason: str,
        segments: tuple[str, ...] = (),
        session: Session | None = None,
    ) -> int:
        """Delete the grant's key grants and pending events and mark it revoked at ``at``
        with no key versions (an earlier revocation stays as it was), or keep a
        tombstone if the grant is unknown, so a late grant event cannot bring it back.
        Returns how many key grants were deleted."""
        ...

    async def grants_to_user(self, user_id: str, session: Session | None = None) -> list[GrantInfo]:
        """The unrevoked grants naming ``user_id`` as grantee, by patient then grant id."""
        ...

    async def grants_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[GrantInfo]:
        """Every grant of the patient (revoked ones too), by ascending grant id."""
        ...

    async def key_grant(
        self, patient_id: str, grant_id: str, segment: str, key_version: int
    ) -> KeyGrant | None:
        """This node's key grant for that grant, segment and key version, or None."""
        ...

    async def count_key_grants(self, patient_id: str, grant_id: str) -> int: ...

    async def owned_by_another(
        self, kind: IdKind, object_id: str, patient_id: str, session: Session | None = None
    ) -> bool:
        """Whether a patient other than ``patient_id`` holds a grant (or record) of that
        id (a collision to count, never to act on)."""
        ...

    async def add_pending(self, pending: PendingGrant, session: Session | None = None) -> None:
        """Park a grant event whose author is not known yet (idempotent by event id)."""
        ...

    async def pending_for_patient(
        self, patient_id: str, session: Session | None = None
    ) -> list[PendingGrant]:
        """The patient's parked events, oldest first (ties by event id)."""
        ...

    async def drop_pending(self, event_id: str, session: Session | None = None) -> None: ...

    async def drop_pending_of_grant(
        self, patient_id: str, grant_id: str, session: Session | None = None
    ) -> None: ...

    async def set_key_version(
        self, patient_id: str, segment: str, version: int, session: Session | None = None
    ) -> None:
        """Raise the segment's newest key version to ``version``; never lowers it."""
        ...

    async def key_versions(self, patient_id: str) -> dict[str, int]:
        """Segment -> newest key version of the patient."""
        ...

    async def put_record(self, record: RecordInfo, session: Session | None = None) -> None:
        """Store the record's capsules and upload time; a deletion recorded before stays."""
        ...

    async def delete_record(
        self, patient_id: str, record_id: str, at: datetime, session: Session | None = None
    ) -> None:
        """Mark the patient's record deleted at ``at``, known or not (an unknown one is
        kept as a tombstone with no segments)."""
        ...

    async def get_record(self, patient_id: str, record_id: str) -> RecordInfo | None: ...

    async def record_rejection(
        self,
        event_id: str,
        event_type: str,
        reason: str,
        at: datetime,
        session: Session | None = None,
    ) -> None:
        """Remember a refused event (idempotent by event id)."""
        ...

    async def count_rejections(self) -> int: ...

    async def breakglass_opened_at(self, requester_id: str, patient_id: str) -> datetime | None:
        """When the requester's emergency window on the patient opened, or None."""
        ...

    async def open_breakglass(
        self, requester_id: str, patient_id: str, at: datetime, reason: str
    ) -> None:
        """Open (or re-open at ``at``) the requester's emergency window on the patient."""
        ...


#: the kinds of client-chosen ids this node keeps, and the collection of each
IdKind = Literal["grant", "record"]


def grant_key(patient_id: str, grant_id: str) -> Document:
    return {"p": patient_id, "g": grant_id}


def record_key(patient_id: str, record_id: str) -> Document:
    return {"p": patient_id, "r": record_id}


def key_grant_key(patient_id: str, grant_id: str, segment: str, key_version: int) -> Document:
    return {"p": patient_id, "g": grant_id, "s": segment, "v": key_version}

"""user-api's store: what the event handlers and the use cases need of it (a Protocol).

Two implementations: :class:`user_api.mongo_store.MongoStore` (the service's) and
:class:`user_api.memory.MemoryStore` (the fast tier's); ``tests/contracts`` runs one
suite against both. Grant ids are the patient's own: a grant is keyed by (patient,
grant id), and another patient's grant of the same id is another grant.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.client_session import AsyncClientSession

from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from user_api.grants import GrantView

#: the consumer's transaction, so an event's writes commit with its processed mark
#: (None: no transaction; the memory store ignores it)
Session = AsyncClientSession | None


def new_breakglass_entry(data: AccessBreakglass, at: datetime) -> Document:
    """What a break-glass entry keeps of the first announcement of its request."""
    return {
        "request_id": data.request_id,
        "patient_id": data.patient_id,
        "record_id": data.record_id,
        "requester_id": data.requester_id,
        "reason": data.reason,
        "first_seen": at,
        "review": "pending",
    }


class Store(Protocol):
    async def ensure_indexes(self) -> None:
        """Create what lookups need; idempotent."""

    async def put_grant(self, data: AclGranted, session: Session = None) -> None:
        """Keep the grant's metadata (never a kfrag). Sent again (after a key rotation),
        its fields are replaced and its key versions added to the ones known; a grant
        revoked before stays revoked."""

    async def revoke_grant(self, data: AclRevoked, session: Session = None) -> bool:
        """Mark the patient's grant revoked and True. Unknown yet, a revoked stub is kept
        so the grant cannot come back later. False, and nothing written, when the id is
        known only under another patient."""

    async def record_rejection(
        self, event_id: str, event_type: str, reason: str, session: Session = None
    ) -> None:
        """Keep why an event was refused, once per event id (the last reason wins)."""

    async def count_rejections(self) -> int:
        """How many distinct events were refused."""

    async def grants_for(
        self, caller: Principal, patient_id: str | None = None, *, include_revoked: bool = False
    ) -> list[GrantView]:
        """Grants that may address ``caller``: those naming him, and group grants whose
        role is his or unset (the caller checks the full selector and the times).
        Revoked ones only with ``include_revoked``; one patient's with ``patient_id``."""

    async def note_breakglass(
        self, data: AccessBreakglass, at: datetime, session: Session = None
    ) -> None:
        """Merge one node's announcement into the entry of its (patient, requester,
        request): the first announcement's reason, record and time stay, the segments
        and nodes accumulate, ``expires_in_s`` is the largest, ``review`` is pending."""

    async def breakglass_of(self, patient_id: str, limit: int = 500) -> Sequence[Document]:
        """The patient's break-glass entries, newest ``first_seen`` first, at most ``limit``."""

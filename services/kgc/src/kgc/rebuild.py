"""The KGC rebuilds the public part of its directory from its own events.

A deployment brought up from a capture (docs/integration-testing.md) gets its users and
organisations back this way. The KGC consumes ``phr.users`` and ``phr.revocations`` and
applies each event only where it adds something: an entry that is missing, or a status
that moves forward (pending -> active -> revoked, never back). Its own live events, whose
change the request that wrote them already made, and a second replay of the same stream
therefore change nothing.

- ``user.enrolled`` v2: the user (attributes, public keys, fingerprints; an active user
  gets a credential signed now), unless his id or one of his keys is taken. A v1 event
  (upcast with null public keys) rebuilds nothing: an entry without keys verifies no
  login, so it is counted and logged, never half-made.
- ``user.approved``: pending -> active, with a credential.
- ``user.revoked``: pending or active -> revoked. Revocations travel on their own topic,
  so one may arrive before the enrolment it ends: it is noted, and the enrolment is then
  rebuilt revoked.
- ``user.traced``: nothing of its own (the ``user.revoked`` written with it revokes).
- ``organisation.created``: the organisation, unless its id or name is taken.

Never rebuilt (no event carries them): display names, users' secret keys, login
challenges, attribute groups, the operator's key file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import structlog

from kgc.store import Duplicate, KgcStore
from kgc.users import Directory
from phr.events.catalog import TOPIC_REVOCATIONS, TOPIC_USERS
from phr.events.envelope import Envelope
from phr.events.users import OrganisationCreated, UserApproved, UserEnrolled, UserRevoked
from phr.service.mongo import Document
from phr.service.producers import KGC, ProducerRules
from phr.service.rebuild import catalog_data_or_skip

log = structlog.get_logger("kgc.rebuild")

TOPICS: Final = [TOPIC_USERS, TOPIC_REVOCATIONS]
#: every type this consumer applies, and the one producer it accepts each from
RULES: Final[ProducerRules] = {
    "user.enrolled": KGC,
    "user.approved": KGC,
    "user.revoked": KGC,
    "organisation.created": KGC,
}
TYPES: Final = frozenset(RULES)
GROUP: Final = "kgc.directory"
#: apart from the revocation list's processed events (same database, other consumer)
PROCESSED: Final = "processed_directory_events"


@dataclass
class RebuildStats:
    """What the consumer did since start (``applied`` counts real changes only)."""

    applied: int = 0
    unchanged: int = 0
    without_keys: int = 0
    malformed: int = 0


class DirectoryRebuild:
    """The consumer's handler: one event -> at most one change of the directory."""

    def __init__(self, store: KgcStore, directory: Directory) -> None:
        self.store = store
        self.directory = directory
        self.stats = RebuildStats()

    async def __call__(self, event: Envelope, _session: object = None) -> None:
        # The store calls are idempotent on their own (insert if absent, forward-only
        # transitions), so they need not share the processed-event transaction: a
        # retried event finds its change made and changes nothing.
        data = catalog_data_or_skip(event, self.stats)
        if data is None:
            return
        if isinstance(data, UserEnrolled):
            changed = await self._enrolled(event, data)
        elif isinstance(data, UserApproved):
            changed = await self._approved(data)
        elif isinstance(data, UserRevoked):
            changed = await self._revoked(event, data)
        elif isinstance(data, OrganisationCreated):
            changed = await self._org(event, data)
        else:
            return
        if changed:
            self.stats.applied += 1
            log.info("directory.rebuilt", event_type=event.type, subject=event.subject)
        else:
            self.stats.unchanged += 1

    async def _enrolled(self, event: Envelope, data: UserEnrolled) -> bool:
        if data.ed25519_public is None or data.umbral_public is None:
            self.stats.without_keys += 1
            log.warning("directory.enrolment_without_keys", user_id=data.user_id)
            return False
        doc: Document = {
            "_id": data.user_id,
            "role": data.role,
            "organisation_id": data.organisation_id,
            "department": data.department,
            "display_name": None,
            "status": data.status,
            "ed25519_public": data.ed25519_public,
            "umbral_public": data.umbral_public,
            "ed25519_fp": data.ed25519_fingerprint,
            "umbral_fp": data.umbral_fingerprint,
            "enrolled_at": event.time,
            "credential": None,
        }
        revoked = await self.store.noted_revocation(data.user_id)
        if revoked is not None:
            doc |= {
                "status": "revoked",
                "revoked_by": revoked["revoked_by"],
                "revoked_reason": revoked["revoked_reason"],
            }
        elif data.status == "active":
            doc["credential"] = self.directory.credential_for(doc).model_dump(mode="json")
        return await self.store.restore_user(doc)

    async def _approved(self, data: UserApproved) -> bool:
        user = await self.store.get_user(data.user_id)
        if user is None or user["status"] != "pending":
            return False
        credential = self.directory.credential_for(user).model_dump(mode="json")
        update = {"status": "active", "approved_by": data.approved_by, "credential": credential}
        moved = await self.store.transition(data.user_id, from_status=["pending"], update=update)
        return moved is not None

    async def _revoked(self, event: Envelope, data: UserRevoked) -> bool:
        update = {"status": "revoked", "revoked_by": data.revoked_by, "revoked_reason": data.reason}
        done = await self.store.transition(
            data.user_id, from_status=["active", "pending"], update=update
        )
        if done is not None:
            return True
        if await self.store.get_user(data.user_id) is None:
            # Ahead of his enrolment (another topic): remembered for it.
            await self.store.note_revocation(
                data.user_id, {"revoked_by": data.revoked_by, "revoked_reason": data.reason}
            )
        return False

    async def _org(self, event: Envelope, data: OrganisationCreated) -> bool:
        doc: Document = {
            "_id": data.organisation_id,
            "name": data.name,
            "kind": data.kind,
            "created_by": data.created_by,
            "created_at": event.time,
        }
        try:
            await self.store.insert_org(doc)
        except Duplicate:
            return False
        return True

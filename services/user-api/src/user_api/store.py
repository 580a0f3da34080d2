"""user-api's Mongo: grant metadata, access requests, break-glass accesses.

The only module that imports pymongo. Every write an event handler makes takes the
consumer's session, so it commits together with the processed-event record.

Collections:

- ``grants``: ``{_id: {p: patient, g: grant}, grant_id, patient_id, grantee_user_id,
  grantee_group, group_role, segments, not_before, expires_at, data_from, emergency,
  key_versions, revoked}``; metadata only, never a kfrag. A grant id is the patient's
  own (owner-api's ids are per patient): another patient's event of the same id reaches
  only his own grant. A revocation that arrives first leaves a revoked stub, so the
  grant cannot come back; one naming an id known only under another patient changes
  nothing and is kept in ``rejected_events``.
- ``access_requests``: what one access obtained, for its requester to download within
  ``expires_at``; kept until ``purge_at`` (TTL index) for audit.
- ``breakglass``: one document per break-glass request (every node's
  ``access.breakglass`` merged), ``_id: {p: patient, q: requester, r: request}`` (the
  request id is the caller's), flagged ``review: pending`` for the patient.
- ``rejected_events``: ``{_id: event id, type, reason, at}``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from phr.api.ids import segment_version
from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from user_api.grants import GrantView

GRANTS: Final = "grants"
ACCESS_REQUESTS: Final = "access_requests"
BREAKGLASS: Final = "breakglass"
REJECTED: Final = "rejected_events"

Session = AsyncClientSession | None


#: access requests this process made lately, kept in memory too: the download that
#: follows a request nearly always reaches the same process and then skips a Mongo read
#: (requests are written once and never changed; Mongo keeps every one regardless)
RECENT_REQUESTS = 10_000


def _grant_key(patient_id: str, grant_id: str) -> Document:
    return {"p": patient_id, "g": grant_id}


class MongoStore:
    def __init__(self, db: AsyncDatabase[Document], *, recent: int = RECENT_REQUESTS) -> None:
        self.grants = db[GRANTS]
        # An access request only lets its caller download for a few minutes (the access
        # itself is on the ledger, published before the nodes were asked): it is written
        # without waiting for the journal (w=1, ~0.4 instead of ~1.1 ms here), and one
        # lost in a Mongo crash means the reader asks again.
        self.requests = db.get_collection(ACCESS_REQUESTS, write_concern=WriteConcern(w=1))
        self.breakglass = db[BREAKGLASS]
        self.rejected = db[REJECTED]
        self._recent: OrderedDict[str, Document] = OrderedDict()
        self._recent_max = recent

    async def ensure_indexes(self) -> None:
        await self.grants.create_index([("grantee_user_id", ASCENDING)])
        await self.grants.create_index([("group_role", ASCENDING)])
        await self.grants.create_index(
            [("patient_id", ASCENDING), ("grant_id", ASCENDING)], unique=True
        )
        await self.grants.create_index([("grant_id", ASCENDING)])
        await self.requests.create_index([("purge_at", ASCENDING)], expireAfterSeconds=0)
        await self.breakglass.create_index([("patient_id", ASCENDING), ("first_seen", DESCENDING)])

    # ------------------------------------------------------------ grants (events)

    async def put_grant(self, data: AclGranted, session: Session = None) -> None:
        """Keep a grant's metadata; a re-sent grant (key rotation) adds its key versions."""
        group = dict(data.grantee_group) if data.grantee_group else None
        await self.grants.update_one(
            {"_id": _grant_key(data.patient_id, data.grant_id)},
            {
                "$set": {
                    "grant_id": data.grant_id,
                    "patient_id": data.patient_id,
                    "grantee_user_id": data.grantee_user_id,
                    "grantee_group": group,
                    # group grants are looked up by role first, then matched in full
                    "group_role": group.get("role") if group else None,
                    "segments": sorted(set(data.segments)),
                    "not_before": data.not_before,
                    "expires_at": data.expires_at,
                    "data_from": data.data_from,
                    "emergency": data.emergency,
                    "updated_at": datetime.now(UTC),
                },
                "$addToSet": {
                    "key_versions": {
                        "$each": [
                            segment_version(k.segment, k.key_version) for k in data.key_grants
                        ]
                    }
                },
                "$setOnInsert": {"revoked": False},
            },
            upsert=True,
            session=session,
        )

    async def revoke_grant(self, data: AclRevoked, session: Session = None) -> bool:
        """Revoke the patient's grant (a stub if unknown yet); False, and nothing written,
        if the id is known only under another patient."""
        key = _grant_key(data.patient_id, data.grant_id)
        if await self.grants.find_one({"_id": key}, {"_id": 1}, session=session) is None:
            elsewhere = await self.grants.find_one(
                {"grant_id": data.grant_id, "patient_id": {"$ne": data.patient_id}},
                {"_id": 1},
                session=session,
            )
            if elsewhere is not None:
                return False
        await self.grants.update_one(
            {"_id": key},
            {
                "$set": {"revoked": True, "revoked_at": datetime.now(UTC)},
                "$setOnInsert": {
                    "grant_id": data.grant_id,
                    "patient_id": data.patient_id,
                    "segments": [],
                },
            },
            upsert=True,
            session=session,
        )
        return True

    async def record_rejection(
        self, event_id: str, event_type: str, reason: str, session: Session = None
    ) -> None:
        await self.rejected.replace_one(
            {"_id": event_id},
            {"type": event_type, "reason": reason, "at": datetime.now(UTC)},
            upsert=True,
            session=session,
        )

    async def count_rejections(self) -> int:
        return await self.rejected.count_documents({})

    async def grants_for(self, caller: Principal, patient_id: str | None = None) -> list[GrantView]:
        """Unrevoked grants that may address ``caller`` (the caller of
        :func:`user_api.grants.scope_for` checks selectors and times)."""
        query: dict[str, Any] = {
            "revoked": False,
            "$or": [
                {"grantee_user_id": caller.sub},
                {
                    "grantee_user_id": None,
                    "grantee_group": {"$ne": None},
                    "group_role": {"$in": [caller.role, None]},
                },
            ],
        }
        if patient_id is not None:
            query["patient_id"] = patient_id
        return [GrantView.from_doc(d) async for d in self.grants.find(query)]

    # ------------------------------------------------------------ access requests

    async def put_request(self, doc: Document) -> None:
        await self.requests.insert_one(doc)
        if self._recent_max:
            self._recent[str(doc["_id"])] = doc
            if len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)

    async def get_request(self, request_id: str) -> Document | None:
        found = self._recent.get(request_id)
        if found is not None:
            return found
        return await self.requests.find_one({"_id": request_id})

    # ------------------------------------------------------------ break-glass

    async def note_breakglass(
        self, data: AccessBreakglass, at: datetime, session: Session = None
    ) -> None:
        """Merge one node's announcement into the request's break-glass entry."""
        await self.breakglass.update_one(
            {"_id": {"p": data.patient_id, "q": data.requester_id, "r": data.request_id}},
            {
                "$setOnInsert": {
                    "request_id": data.request_id,
                    "patient_id": data.patient_id,
                    "record_id": data.record_id,
                    "requester_id": data.requester_id,
                    "reason": data.reason,
                    "first_seen": at,
                    "review": "pending",
                },
                "$addToSet": {
                    "segments": {"$each": list(data.segments)},
                    "nodes": data.node_id or "?",
                },
                "$max": {"expires_in_s": data.expires_in_s},
            },
            upsert=True,
            session=session,
        )

    async def breakglass_of(self, patient_id: str, limit: int = 500) -> Sequence[Document]:
        cursor = (
            self.breakglass.find({"patient_id": patient_id})
            .sort([("first_seen", DESCENDING)])
            .limit(limit)
        )
        return [d async for d in cursor]

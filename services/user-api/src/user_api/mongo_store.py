"""user-api's store on MongoDB (:class:`user_api.store.Store`): grant metadata and
break-glass accesses.

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
- ``breakglass``: one document per break-glass request (every node's
  ``access.breakglass`` merged), ``_id: {p: patient, q: requester, r: request}`` (the
  request id is the caller's), flagged ``review: pending`` for the patient.
- ``rejected_events``: ``{_id: event id, type, reason, at}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from phr.api.ids import segment_version
from phr.events.access import AccessBreakglass
from phr.events.acl import AclGranted, AclRevoked
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from user_api.grants import GrantView
from user_api.store import Session, new_breakglass_entry

GRANTS: Final = "grants"
BREAKGLASS: Final = "breakglass"
REJECTED: Final = "rejected_events"


def _grant_key(patient_id: str, grant_id: str) -> Document:
    return {"p": patient_id, "g": grant_id}


class MongoStore:
    """:class:`~user_api.store.Store` on MongoDB (see the module for the collections)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.grants = db[GRANTS]
        self.breakglass = db[BREAKGLASS]
        self.rejected = db[REJECTED]

    async def ensure_indexes(self) -> None:
        await self.grants.create_index([("grantee_user_id", ASCENDING)])
        await self.grants.create_index([("group_role", ASCENDING)])
        await self.grants.create_index(
            [("patient_id", ASCENDING), ("grant_id", ASCENDING)], unique=True
        )
        await self.grants.create_index([("grant_id", ASCENDING)])
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
                    "purpose": data.purpose,
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

    async def grants_for(
        self, caller: Principal, patient_id: str | None = None, *, include_revoked: bool = False
    ) -> list[GrantView]:
        """Grants (unrevoked, unless ``include_revoked``) that may address ``caller`` (the
        caller of :func:`user_api.grants.scope_for` checks selectors and times)."""
        query: dict[str, Any] = {
            **({} if include_revoked else {"revoked": False}),
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

    # ------------------------------------------------------------ break-glass

    async def note_breakglass(
        self, data: AccessBreakglass, at: datetime, session: Session = None
    ) -> None:
        """Merge one node's announcement into the request's break-glass entry."""
        await self.breakglass.update_one(
            {"_id": {"p": data.patient_id, "q": data.requester_id, "r": data.request_id}},
            {
                "$setOnInsert": new_breakglass_entry(data, at),
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

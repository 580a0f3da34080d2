"""Documents and a pair of stores for owner-api's store contract
(tests/contracts/test_owner_api_store.py): what the use cases write, cut to the fields
the stores look at."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from owner_api.store import AclStore, RecordStore, record_key
from phr.service.mongo import Document

#: whole milliseconds: what a BSON date keeps
T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def event(type: str, key: str) -> Document:
    return {
        "_id": f"{type}:{key}",
        "event_id": key,
        "envelope": "{}",
        "created_at": T0,
        "sent_at": None,
    }


def pending(rid: str = "r1", patient: str = "p1", upload: str | None = None, **kw: Any) -> Document:
    return {
        "_id": record_key(patient, rid),
        "patient_id": patient,
        "record_id": rid,
        "upload_id": upload or f"up-{rid}",
        "status": "pending",
        "uploaded_by": patient,
        "signed_manifest": {"manifest": {"record_id": rid}, "signature": "sig"},
        "manifest_sha256": f"sha-{rid}",
        "segments": [{"name": "labs", "key_version": 1, "size": 3, "sha256": "ab"}],
        "tags": {"labs": ["00ff"]},
        "stored": {},
        "created_at": T0,
        "touched_at": T0,
    } | kw


def grant(gid: str = "g1", patient: str = "p1", at: int = 0) -> Document:
    return {
        "_id": f"{patient}/{gid}",
        "patient_id": patient,
        "grant_id": gid,
        "grantee_user_id": "u_doc",
        "segments": ["labs"],
        "threshold": 2,
        "key_versions": [{"segment": "labs", "key_version": 1}],
        "status": "active",
        "content_sha256": f"terms-{gid}",
        "created_at": T0 + timedelta(seconds=at),
    }


def delegation(delegate: str = "u_care", patient: str = "p1", **kw: Any) -> Document:
    key = f"{patient}/{delegate}"
    return {
        "_id": key,
        "delegation_id": key,
        "patient_id": patient,
        "delegate_user_id": delegate,
        "segments": ["labs"],
        "active": True,
        "sealed_keys": {},
        "changed_at": T0,
    } | kw


@dataclass
class Stores:
    records: RecordStore
    acl: AclStore
    #: the ids in the (shared) outbox, sorted
    outbox: Callable[[], Awaitable[list[str]]]

    async def committed(self, rid: str = "r1", patient: str = "p1", **kw: Any) -> Document:
        await self.records.insert_pending(pending(rid, patient, **kw))
        assert await self.records.commit(patient, rid, event("record.uploaded", f"{patient}/{rid}"))
        return await self.records.get(patient, rid) or {}

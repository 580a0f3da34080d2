"""owner-api's stores in memory, for the fast tier; held to :mod:`owner_api.store`'s contract.

Documents are copied in and out, as a database would: a caller's later change to a dict
it passed or got never reaches the stored state. The record and access-control stores
of one deployment share one outbox (one ``outbox`` collection in Mongo):
:func:`memory_stores` builds such a pair.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from owner_api.store import (
    SLIM_LEAVES_OUT,
    STALE_FIELDS,
    AclStore,
    Duplicate,
    RecordStore,
    owned_key,
    record_key,
)
from phr.service.mongo import Document

Outbox = dict[str, Document]


def _copy(doc: Document | None, leave_out: Iterable[str] = ()) -> Document | None:
    if doc is None:
        return None
    skip = set(leave_out)
    return {k: copy.deepcopy(v) for k, v in doc.items() if k not in skip}


def _add_events(outbox: Outbox, events: list[Document]) -> bool:
    """Write all ``events`` or, if one's id is taken (a retry), none: False."""
    if any(e["_id"] in outbox for e in events) or len({e["_id"] for e in events}) < len(events):
        return False
    outbox.update({e["_id"]: copy.deepcopy(e) for e in events})
    return True


class MemoryRecordStore:
    def __init__(self, outbox: Outbox | None = None) -> None:
        self.records: dict[str, Document] = {}
        self.contributors: dict[str, Document] = {}
        self.outbox: Outbox = {} if outbox is None else outbox

    def _find(self, patient_id: str, record_id: str, *statuses: str) -> Document | None:
        doc = self.records.get(record_key(patient_id, record_id))
        if doc is None or (statuses and doc["status"] not in statuses):
            return None
        return doc

    def _taken(self, doc: Document) -> bool:
        return doc["_id"] in self.records or any(
            (r["patient_id"], r["upload_id"]) == (doc["patient_id"], doc["upload_id"])
            for r in self.records.values()
        )

    # ---------------------------------------------------------------- records

    async def insert_pending(self, doc: Document) -> None:
        if self._taken(doc):
            raise Duplicate(f"record {doc['_id']} or upload {doc['upload_id']} exists")
        self.records[doc["_id"]] = copy.deepcopy(doc)

    async def get(self, patient_id: str, record_id: str) -> Document | None:
        return _copy(self._find(patient_id, record_id))

    async def by_upload(
        self, patient_id: str, upload_id: str, *, slim: bool = False
    ) -> Document | None:
        found = next(
            (
                r
                for r in self.records.values()
                if r["patient_id"] == patient_id and r["upload_id"] == upload_id
            ),
            None,
        )
        return _copy(found, SLIM_LEAVES_OUT if slim else ())

    async def touch(self, patient_id: str, record_id: str) -> bool:
        doc = self._find(patient_id, record_id, "pending")
        if doc is not None:
            doc["touched_at"] = datetime.now(UTC)
        return doc is not None

    async def mark_stored(
        self, patient_id: str, record_id: str, segments: dict[str, tuple[int, str]]
    ) -> Document | None:
        doc = self._find(patient_id, record_id, "pending")
        if doc is None:
            return None
        now = datetime.now(UTC)
        stored = doc.setdefault("stored", {})
        for name, (size, sha256) in segments.items():
            stored[name] = {"size": size, "sha256": sha256, "at": now}
        doc["touched_at"] = now
        return _copy(doc, SLIM_LEAVES_OUT)

    async def commit(
        self, patient_id: str, record_id: str, outbox_doc: Document, at: datetime | None = None
    ) -> bool:
        doc = self._find(patient_id, record_id, "pending")
        if doc is None or not _add_events(self.outbox, [outbox_doc]):
            return False
        now = at or datetime.now(UTC)
        doc.update(status="committed", committed_at=now, touched_at=now)
        doc.pop("tags", None)
        return True

    async def replace_manifest(
        self,
        patient_id: str,
        record_id: str,
        expected_sha256: str,
        update: Document,
        outbox_doc: Document,
    ) -> bool:
        doc = self._find(patient_id, record_id, "committed")
        if doc is None or doc["manifest_sha256"] != expected_sha256:
            return False
        if not _add_events(self.outbox, [outbox_doc]):
            return False
        doc.update(copy.deepcopy(update))
        return True

    async def start_delete(self, patient_id: str, record_id: str, by: str) -> Document | None:
        doc = self._find(patient_id, record_id, "committed")
        if doc is not None:
            doc.update(status="deleting", deleted_by=by, touched_at=datetime.now(UTC))
        return await self.get(patient_id, record_id)

    async def tombstone(
        self, patient_id: str, record_id: str, tombstone: Document, outbox_doc: Document
    ) -> bool:
        if self._find(patient_id, record_id, "deleting") is None:
            return False
        if not _add_events(self.outbox, [outbox_doc]):
            return False
        self._replace(patient_id, record_id, tombstone)
        return True

    def _replace(self, patient_id: str, record_id: str, doc: Document) -> None:
        key = record_key(patient_id, record_id)
        self.records[key] = {"_id": key} | copy.deepcopy(doc)

    async def claim_abandoned(
        self, patient_id: str, record_id: str, touched_at: datetime | None
    ) -> bool:
        doc = self._find(patient_id, record_id, "pending")
        if doc is None or (touched_at is not None and doc["touched_at"] != touched_at):
            return False
        doc["status"] = "abandoned"
        return True

    async def remove_abandoned(self, patient_id: str, record_id: str) -> bool:
        if self._find(patient_id, record_id, "abandoned") is None:
            return False
        del self.records[record_key(patient_id, record_id)]
        return True

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Document]:
        found = [
            {"_id": r["_id"]} | {k: copy.deepcopy(r[k]) for k in STALE_FIELDS if k in r}
            for r in self.records.values()
            if r["status"] == "abandoned" or (r["status"] == "pending" and r["touched_at"] < before)
        ]
        return found[:limit]

    async def list_records(
        self, patient_id: str, *, include_deleted: bool, limit: int
    ) -> list[Document]:
        statuses = ("committed", "deleted") if include_deleted else ("committed",)
        found = [
            r
            for r in self.records.values()
            if r["patient_id"] == patient_id and r["status"] in statuses
        ]
        found.sort(key=lambda r: r["_id"])
        found.sort(key=lambda r: r["created_at"], reverse=True)  # stable: ties by _id
        return [d for r in found[:limit] if (d := _copy(r, SLIM_LEAVES_OUT)) is not None]

    # ---------------------------------------------------------------- rebuilt from events

    async def restore(self, doc: Document) -> bool:
        if self._taken(doc):
            return False
        self.records[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def restore_manifest(
        self, patient_id: str, record_id: str, expected_sha256: str, update: Document
    ) -> bool:
        doc = self._find(patient_id, record_id, "committed")
        if doc is None or doc["manifest_sha256"] != expected_sha256:
            return False
        if all(k in doc and doc[k] == v for k, v in update.items()):
            return False  # nothing to change (Mongo's modified count is 0)
        doc.update(copy.deepcopy(update))
        return True

    async def restore_tombstone(self, patient_id: str, record_id: str, tombstone: Document) -> bool:
        if self._find(patient_id, record_id, "committed") is None:
            return False
        self._replace(patient_id, record_id, tombstone)
        return True

    # ---------------------------------------------------------------- contributors

    async def add_contributor(self, patient_id: str, org_id: str) -> Document:
        key = owned_key(patient_id, org_id)
        doc = {
            "_id": key,
            "patient_id": patient_id,
            "org_id": org_id,
            "added_at": datetime.now(UTC),
        }
        return copy.deepcopy(self.contributors.setdefault(key, doc))

    async def remove_contributor(self, patient_id: str, org_id: str) -> bool:
        return self.contributors.pop(owned_key(patient_id, org_id), None) is not None

    async def contributors_of(self, patient_id: str) -> list[Document]:
        found = [c for c in self.contributors.values() if c["patient_id"] == patient_id]
        return copy.deepcopy(sorted(found, key=lambda c: c["org_id"]))

    async def is_contributor(self, patient_id: str, org_id: str) -> bool:
        return owned_key(patient_id, org_id) in self.contributors


class MemoryAclStore:
    def __init__(self, outbox: Outbox | None = None) -> None:
        self.grants: dict[str, Document] = {}
        self.patients: dict[str, Document] = {}
        self.delegations: dict[str, Document] = {}
        self.outbox: Outbox = {} if outbox is None else outbox

    def _active(self, patient_id: str, grant_id: str) -> Document | None:
        doc = self.grants.get(owned_key(patient_id, grant_id))
        return doc if doc is not None and doc["status"] == "active" else None

    # ---------------------------------------------------------------- grants

    async def insert_grant(self, doc: Document, outbox_doc: Document) -> bool:
        if doc["_id"] in self.grants or not _add_events(self.outbox, [outbox_doc]):
            return False
        self.grants[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def get_grant(self, patient_id: str, grant_id: str) -> Document | None:
        return _copy(self.grants.get(owned_key(patient_id, grant_id)))

    async def list_grants(self, patient_id: str) -> list[Document]:
        found = [g for g in self.grants.values() if g["patient_id"] == patient_id]
        return copy.deepcopy(sorted(found, key=lambda g: g["created_at"]))

    async def add_key_versions(
        self, patient_id: str, grant_id: str, versions: list[Document], outbox_doc: Document
    ) -> bool:
        doc = self._active(patient_id, grant_id)
        if doc is None or not _add_events(self.outbox, [outbox_doc]):
            return False
        held = doc.setdefault("key_versions", [])
        for v in versions:
            if v not in held:
                held.append(copy.deepcopy(v))
        return True

    async def revoke_grant(
        self, patient_id: str, grant_id: str, update: Document, outbox_doc: Document
    ) -> bool:
        doc = self._active(patient_id, grant_id)
        if doc is None or not _add_events(self.outbox, [outbox_doc]):
            return False
        doc.update({"status": "revoked", **copy.deepcopy(update)})
        return True

    # ---------------------------------------------------------------- patient keys

    async def patient(self, patient_id: str) -> Document:
        return _copy(self.patients.get(patient_id)) or {"_id": patient_id}

    async def rotate(
        self,
        patient_id: str,
        segments: list[str],
        events: Callable[[dict[str, int]], list[Document]],
    ) -> dict[str, int]:
        versions = self.patients.get(patient_id, {}).get("versions", {})
        new = {s: int(versions.get(s, 1)) + 1 for s in segments}
        if not _add_events(self.outbox, events(new)):
            raise Duplicate(f"an event of rotating {sorted(new)} exists")
        doc = self.patients.setdefault(patient_id, {"_id": patient_id})
        doc.setdefault("versions", {}).update(new)
        return dict(new)

    async def set_patient_fields(self, patient_id: str, fields: Document) -> None:
        doc = self.patients.setdefault(patient_id, {"_id": patient_id})
        doc.update(copy.deepcopy(fields))

    # ---------------------------------------------------------------- delegations

    async def get_delegation(self, patient_id: str, delegate_id: str) -> Document | None:
        return _copy(self.delegations.get(owned_key(patient_id, delegate_id)))

    async def delegations_of(self, patient_id: str) -> list[Document]:
        found = [d for d in self.delegations.values() if d["patient_id"] == patient_id]
        return copy.deepcopy(sorted(found, key=lambda d: d["_id"]))

    async def put_delegation(self, doc: Document, outbox_doc: Document) -> bool:
        if not _add_events(self.outbox, [outbox_doc]):
            return False
        self.delegations[doc["_id"]] = copy.deepcopy(doc)
        return True


def memory_stores() -> tuple[MemoryRecordStore, MemoryAclStore]:
    """A record store and an access-control store sharing one outbox."""
    outbox: Outbox = {}
    return MemoryRecordStore(outbox), MemoryAclStore(outbox)


def _conforms(records: MemoryRecordStore, acl: MemoryAclStore) -> tuple[RecordStore, AclStore]:
    return records, acl  # mypy checks the classes against the contracts

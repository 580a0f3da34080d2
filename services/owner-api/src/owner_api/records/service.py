"""Record use cases: record-level upload, listing, download and deletion of records.

Upload protocol (one round trip for the record; idempotent under the ``upload_id``):

1. ``begin_upload``: verify the signed manifest once (author = the caller's enrolled
   key), check limits, store a *pending* record, and answer with one presigned S3 PUT
   URL per segment not stored yet (:meth:`RecordService.upload_urls`), under
   ``<patient>/<record>/<segment>/v<key_version>``. Each URL signs the segment's
   SHA-256 (``x-amz-checksum-sha256``): S3 refuses other bytes. No byte passes here.
2. The client PUTs every segment straight to S3, in parallel.
3. ``commit``: cloud-store checks with one HEAD per segment that S3 holds it with the
   signed size and SHA-256 (S3's own checksum) and records it; any missing -> 409 with
   the list, and the client sends those again (``GET /uploads/{id}`` gives new URLs).
   All stored -> tags to cloud-store's index, then one Mongo transaction marks the
   record committed and writes the ``record.uploaded`` outbox document (keyed by
   record, so it exists once). The relay publishes it. Until then the record is
   invisible: listing, access and the SRS know only committed records.

A pending upload that is aborted, or untouched for ``pending_ttl_s`` (a client that
died), is removed by :class:`~owner_api.records.sweeper.UploadSweeper`: no orphan object or
metadata remains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from owner_api.errors import (
    NotAllowed,
    RecordGone,
    RecordNotFound,
    SegmentNotFound,
    UploadConflict,
    UploadIncomplete,
)
from owner_api.records.cloud import BlobDownload, CloudStorage, PresignedPut
from owner_api.records.manifests import check_upload, segment_summary, uploaded_event
from owner_api.records.sweeper import UploadSweeper
from owner_api.settings import Settings
from owner_api.store import Duplicate, RecordStore, record_key, tombstone_doc
from phr.api.ids import blob_key
from phr.api.owner import UploadIn
from phr.crypto.canonical import canonical_json
from phr.crypto.manifest import RecordManifest
from phr.events.records import RecordDeleted, RecordUploaded
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from phr.service.outbox import EventMaker, outbox_doc

log = structlog.get_logger("owner_api.records.service")


class RecordService:
    def __init__(
        self,
        store: RecordStore,
        cloud: CloudStorage,
        make_event: EventMaker,
        settings: Settings,
        sweeper: UploadSweeper,
        *,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.cloud = cloud
        self.sweeper = sweeper
        self.make_event = make_event
        self.settings = settings
        self._on_outbox = on_outbox

    # ---------------------------------------------------------------- who may do what

    async def ensure_writer(self, caller: Principal, patient_id: str) -> None:
        """The patient himself, or staff of an organisation the patient authorised."""
        if caller.role == "patient" and caller.sub == patient_id:
            return
        if (
            caller.is_staff
            and caller.org
            and await self.store.is_contributor(patient_id, caller.org)
        ):
            return
        raise NotAllowed("only the patient or a contributor he authorised may upload here")

    @staticmethod
    def ensure_reader(caller: Principal, patient_id: str) -> None:
        """The patient himself (grantees read through user-api), or a service."""
        if caller.is_service or (caller.role == "patient" and caller.sub == patient_id):
            return
        raise NotAllowed("only the patient himself may read his records here")

    # ---------------------------------------------------------------- phase 1

    async def begin_upload(
        self, caller: Principal, patient_id: str, body: UploadIn
    ) -> tuple[Document, bool]:
        """The pending upload (created now: True; an identical retry: False)."""
        await self.ensure_writer(caller, patient_id)
        manifest = check_upload(caller, patient_id, body, self.settings)
        digest = hashlib.sha256(canonical_json(body.signed_manifest)).hexdigest()
        existing = await self._existing(patient_id, body.upload_id, manifest.record_id, digest)
        if existing is not None:
            return existing, False
        now = datetime.now(UTC)
        doc: Document = {
            "_id": record_key(patient_id, manifest.record_id),
            "patient_id": patient_id,
            "record_id": manifest.record_id,
            "upload_id": body.upload_id,
            "status": "pending",
            "uploaded_by": caller.sub,
            "uploader_role": caller.role,
            "uploader_org": caller.org,
            "signed_manifest": body.signed_manifest,
            "manifest_sha256": digest,
            "segments": [segment_summary(e) for e in manifest.segments],
            "tags": {e.name: sorted(body.tags.get(e.name, [])) for e in manifest.segments},
            "stored": {},
            "created_at": now,
            "touched_at": now,
        }
        try:
            await self.store.insert_pending(doc)
        except Duplicate:
            # A concurrent twin won the insert: answer as for a retry (or a conflict).
            existing = await self._existing(patient_id, body.upload_id, manifest.record_id, digest)
            if existing is None:
                raise UploadConflict("the upload changed while it was being created") from None
            return existing, False
        log.info("upload.begun", patient_id=patient_id, record_id=manifest.record_id)
        return doc, True

    async def _existing(
        self, patient_id: str, upload_id: str, record_id: str, digest: str
    ) -> Document | None:
        doc = await self.store.by_upload(patient_id, upload_id)
        if doc is None:
            other = await self.store.get(patient_id, record_id)
            if other is not None:
                raise UploadConflict(
                    f"record {record_id} already exists (another upload id); pick a new record id"
                )
            return None
        if doc["manifest_sha256"] != digest:
            raise UploadConflict("this upload id was used with another manifest")
        if doc["status"] in ("deleting", "deleted"):
            raise RecordGone(f"record {doc['record_id']} was deleted")
        if doc["status"] == "abandoned":
            raise UploadConflict("this upload was abandoned and is being removed; retry shortly")
        return doc

    async def _own_upload(
        self, caller: Principal, patient_id: str, upload_id: str, *, slim: bool = False
    ) -> Document:
        doc = await self.store.by_upload(patient_id, upload_id, slim=slim)
        if doc is None or doc["status"] == "abandoned":
            raise RecordNotFound(f"no upload {upload_id} for this patient")
        if doc["uploaded_by"] != caller.sub and not (
            caller.role == "patient" and caller.sub == patient_id
        ):
            raise NotAllowed("only the uploader (or the patient) may continue this upload")
        if doc["status"] in ("deleting", "deleted"):
            raise RecordGone(f"record {doc['record_id']} was deleted")
        return doc

    async def get_upload(self, caller: Principal, patient_id: str, upload_id: str) -> Document:
        return await self._own_upload(caller, patient_id, upload_id, slim=True)

    # ---------------------------------------------------------------- phase 2

    async def upload_urls(self, doc: Document) -> dict[str, PresignedPut]:
        """Presigned S3 PUTs for the segments of a pending upload not stored yet (the
        client sends them in parallel, straight to S3, which checks each SHA-256)."""
        if doc["status"] != "pending":
            return {}
        stored = doc.get("stored", {})
        wanted = {
            blob_key(doc["patient_id"], doc["record_id"], s["name"], int(s["key_version"])): s
            for s in doc["segments"]
            if s["name"] not in stored
        }
        if not wanted:
            return {}
        urls = await self.cloud.presign_puts(
            [(k, s["sha256"], int(s["size"])) for k, s in wanted.items()],
            self.settings.upload_url_ttl_s,
        )
        return {s["name"]: urls[k] for k, s in wanted.items()}

    # ---------------------------------------------------------------- phase 3

    async def commit(self, caller: Principal, patient_id: str, upload_id: str) -> Document:
        """Index the tags, mark committed and queue ``record.uploaded``: exactly once."""
        doc = await self._own_upload(caller, patient_id, upload_id)
        if doc["status"] == "committed":
            return doc
        doc = await self._check_stored(doc)
        record_id = doc["record_id"]
        await self.cloud.put_tags(patient_id, record_id, doc.get("tags", {}))
        committed_at = datetime.now(UTC)
        manifest = RecordManifest.model_validate(doc["signed_manifest"]["manifest"])
        data = uploaded_event(doc, manifest, committed_at)
        outbox = self._outbox_doc("record.uploaded", patient_id, record_id, data)
        if not await self.store.commit(patient_id, record_id, outbox, at=committed_at):
            now = await self.store.get(patient_id, record_id)
            if now is None or now["status"] != "committed":
                raise UploadConflict("the upload was aborted or deleted during the commit")
            return now
        self._on_outbox()
        log.info("record.committed", patient_id=patient_id, record_id=record_id)
        found = await self.store.get(patient_id, record_id)
        assert found is not None
        return found

    async def _check_stored(self, doc: Document) -> Document:
        """Ask cloud-store which segments S3 holds as the manifest signs (one HEAD each,
        S3's own checksum); record them; refuse the commit while any is missing."""
        stored = doc.get("stored", {})
        pending = [s for s in doc["segments"] if s["name"] not in stored]
        if not pending:
            return doc
        pid, rid = doc["patient_id"], doc["record_id"]
        keys = {blob_key(pid, rid, s["name"], int(s["key_version"])): s for s in pending}
        found = await self.cloud.verify_stored(
            [(k, s["sha256"], int(s["size"])) for k, s in keys.items()]
        )
        now_stored = {
            keys[k]["name"]: (int(keys[k]["size"]), keys[k]["sha256"]) for k in found["stored"]
        }
        if now_stored:
            updated = await self.store.mark_stored(pid, rid, now_stored)
            if updated is None:
                raise UploadConflict("the upload was aborted or deleted during the commit")
        missing = sorted(keys[k]["name"] for k in found["missing"] + found["mismatched"])
        if missing:
            raise UploadIncomplete(f"segments not stored yet: {missing}", missing=missing)
        return doc

    def _outbox_doc(
        self, type: str, patient_id: str, record_id: str, data: RecordUploaded | RecordDeleted
    ) -> Document:
        return outbox_doc(
            self.make_event,
            type,
            data,
            subject=patient_id,
            key=record_key(patient_id, record_id),
        )

    # ---------------------------------------------------------------- abort and sweep

    async def abort(self, caller: Principal, patient_id: str, upload_id: str) -> None:
        """Drop a pending upload and whatever it stored (idempotent)."""
        doc = await self.store.by_upload(patient_id, upload_id)
        if doc is None:
            return
        if doc["status"] != "abandoned":
            await self._own_upload(caller, patient_id, upload_id)
        if doc["status"] == "committed":
            raise UploadConflict("this upload is committed; delete the record instead")
        if doc["status"] == "pending":
            await self.store.claim_abandoned(patient_id, doc["record_id"], None)
        await self.sweeper.remove(doc)

    # ---------------------------------------------------------------- reading

    async def committed(self, caller: Principal, patient_id: str, record_id: str) -> Document:
        self.ensure_reader(caller, patient_id)
        doc = await self.store.get(patient_id, record_id)
        if doc is None or doc["status"] in ("pending", "abandoned"):
            raise RecordNotFound(f"no record {record_id} for this patient")
        if doc["status"] != "committed":
            raise RecordGone(f"record {record_id} was deleted")
        return doc

    async def list_records(
        self, caller: Principal, patient_id: str, *, include_deleted: bool, limit: int
    ) -> list[Document]:
        self.ensure_reader(caller, patient_id)
        return await self.store.list_records(
            patient_id, include_deleted=include_deleted, limit=limit
        )

    async def download(
        self, caller: Principal, patient_id: str, record_id: str, segment: str
    ) -> BlobDownload:
        """The segment's ciphertext, streamed from cloud-store (which checks its SHA-256)."""
        doc = await self.committed(caller, patient_id, record_id)
        entry = next((s for s in doc["segments"] if s["name"] == segment), None)
        if entry is None:
            raise SegmentNotFound(f"record {record_id} has no segment {segment}")
        key = blob_key(patient_id, record_id, segment, int(entry["key_version"]))
        return await self.cloud.open_blob(key)

    # ---------------------------------------------------------------- deletion

    async def delete(self, caller: Principal, patient_id: str, record_id: str) -> Document:
        """Delete a record: ciphertext and tags removed, metadata replaced by a tombstone.

        Crypto-shredding: the tombstone keeps no signed manifest, hence no capsule. A
        segment's data key exists only inside its capsule, and grantees open capsules
        only as served by us and re-encrypted by the SRS, so a ciphertext copy that
        outlives the deletion (an S3 backup or replica, a cache) can no longer be opened
        by any grantee. Only a holder of the manifest itself (the patient, who signed
        it) could still open such a copy. Emits ``record.deleted`` once, through the
        outbox; retrying after a failure (cloud-store down) finishes the job.
        """
        if not (caller.role == "patient" and caller.sub == patient_id):
            raise NotAllowed("only the patient himself may delete his records")
        doc = await self.store.get(patient_id, record_id)
        if doc is None or doc["status"] in ("pending", "abandoned"):
            raise RecordNotFound(f"no record {record_id} for this patient")
        if doc["status"] == "deleted":
            return doc
        doc = await self.store.start_delete(patient_id, record_id, caller.sub)
        assert doc is not None
        if doc["status"] == "deleted":
            return doc
        await self.sweeper.remove_ciphertext(patient_id, record_id, doc["segments"])
        tombstone = tombstone_doc(doc, deleted_by=caller.sub, at=datetime.now(UTC))
        data = RecordDeleted(patient_id=patient_id, record_id=record_id, deleted_by=caller.sub)
        outbox = self._outbox_doc("record.deleted", patient_id, record_id, data)
        if await self.store.tombstone(patient_id, record_id, tombstone, outbox):
            self._on_outbox()
            log.info("record.deleted", patient_id=patient_id, record_id=record_id)
        found = await self.store.get(patient_id, record_id)
        assert found is not None
        return found

"""Removal of aborted and stale pending uploads: blobs and tags first, then the document.

A pending upload untouched for ``pending_ttl_s`` (its client died or gave up) is
*claimed* atomically (``pending -> abandoned``, only if still untouched), so a client
that comes back in between keeps its upload, and a segment that arrives after the
claim is deleted by its own request (``mark_stored`` needs ``pending``). Then its blobs
and index entries are deleted through cloud-store, then the document. If cloud-store
or S3 is down, the ``abandoned`` document stays and the next round finishes the job.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from owner_api.records.cloud import CloudStorage
from owner_api.store import RecordStore
from phr.api.ids import blob_key
from phr.service.mongo import Document

log = structlog.get_logger("owner_api.records.sweeper")


class UploadSweeper:
    def __init__(
        self, store: RecordStore, cloud: CloudStorage, *, ttl_s: float, interval_s: float
    ) -> None:
        self.store = store
        self.cloud = cloud
        self.ttl_s = ttl_s
        self.interval_s = interval_s

    async def remove_ciphertext(self, pid: str, rid: str, segments: list[Document]) -> None:
        """Delete every segment's blob and the record's tags (missing ones are fine)."""
        await asyncio.gather(
            *(
                self.cloud.delete_blob(blob_key(pid, rid, s["name"], int(s["key_version"])))
                for s in segments
            )
        )
        await self.cloud.delete_tags(pid, rid)

    async def remove(self, doc: Document) -> None:
        """Remove an abandoned upload's blobs, tags and document."""
        pid, rid = doc["patient_id"], doc["record_id"]
        await self.remove_ciphertext(pid, rid, doc["segments"])
        await self.store.remove_abandoned(pid, rid)
        log.info("upload.removed", patient_id=pid, record_id=rid)

    async def sweep_once(self) -> int:
        """Remove uploads untouched for ``ttl_s`` (and finish earlier removals)."""
        before = datetime.now(UTC) - timedelta(seconds=self.ttl_s)
        removed = 0
        for doc in await self.store.stale_pending(before):
            if doc["status"] == "pending" and not await self.store.claim_abandoned(
                doc["patient_id"], doc["record_id"], doc["touched_at"]
            ):
                continue  # touched meanwhile: the client is back
            await self.remove(doc)
            removed += 1
        return removed

    async def run(self) -> None:
        while True:
            try:
                if n := await self.sweep_once():
                    log.info("uploads.swept", count=n)
            except Exception as exc:  # noqa: BLE001 - S3 down: try again next round
                log.warning("uploads.sweep_failed", error_type=type(exc).__name__)
            await asyncio.sleep(self.interval_s)

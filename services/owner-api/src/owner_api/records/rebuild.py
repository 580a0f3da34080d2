"""owner-api rebuilds its records' metadata from its own ``record.*`` events.

A deployment brought up from a capture (docs/integration-testing.md) gets its records'
metadata back this way: each ``record.uploaded`` carries the record's signed manifest,
from which the committed record is made again exactly as its upload made it (segments,
sizes, hashes, capsules, the author's signature). Each event applies only where it adds
something, so owner-api's own live events (already applied by the request that wrote
them) and a second replay change nothing:

- ``record.uploaded`` for an unknown record: the committed record.
- ``record.uploaded`` again (a re-wrap, keyed apart so possibly out of order): the new
  manifest, only if every capsule version moved up or stayed and it differs.
- ``record.deleted``: the committed record becomes its tombstone (no manifest, so no
  capsule: the crypto-shredding of a deletion holds in the rebuilt deployment too).

Each manifest is checked before it is stored: its author's signature, its SHA-256 against
the event's ``manifest_sha256``, its patient and record against the event's. An event
without a manifest (written before 2026-12) rebuilds nothing; it is counted and logged.

Not rebuilt: the ciphertext (in S3, never on Kafka; copy it with ``phr admin backup``),
keyword tags (cloud-store's index), upload ids (a rebuilt record's is ``rebuilt-<record>``)
and who uploaded it in which role.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final, Protocol

import structlog

from owner_api.records.manifests import segment_summary
from owner_api.store import record_key, tombstone_doc
from phr.crypto.canonical import canonical_json
from phr.crypto.manifest import RecordManifest, verify_manifest
from phr.crypto.signing import SignatureInvalid
from phr.events.catalog import TOPIC_RECORDS
from phr.events.envelope import Envelope
from phr.events.records import RecordDeleted, RecordUploaded
from phr.service.mongo import Document
from phr.service.producers import OWNER_API, ProducerRules
from phr.service.rebuild import catalog_data_or_skip

log = structlog.get_logger("owner_api.records.rebuild")

TOPICS: Final = [TOPIC_RECORDS]
RULES: Final[ProducerRules] = {"record.uploaded": OWNER_API, "record.deleted": OWNER_API}
TYPES: Final = frozenset(RULES)
GROUP: Final = "owner-api.records"
PROCESSED: Final = "processed_record_events"


class RebuildStore(Protocol):
    """What the rebuild needs of :class:`owner_api.store.RecordStore`."""

    async def get(self, patient_id: str, record_id: str) -> Document | None: ...

    async def restore(self, doc: Document) -> bool: ...

    async def restore_manifest(
        self, patient_id: str, record_id: str, expected_sha256: str, update: Document
    ) -> bool: ...

    async def restore_tombstone(
        self, patient_id: str, record_id: str, tombstone: Document
    ) -> bool: ...


@dataclass
class RebuildStats:
    applied: int = 0
    unchanged: int = 0
    without_manifest: int = 0
    refused: int = 0
    malformed: int = 0


class RecordRebuild:
    """The consumer's handler: one event -> at most one change of one record."""

    def __init__(self, store: RebuildStore) -> None:
        self.store = store
        self.stats = RebuildStats()

    async def __call__(self, event: Envelope, _session: object = None) -> None:
        # Each store call is idempotent on its own (insert if absent, conditional
        # updates), so it need not share the processed-event transaction.
        data = catalog_data_or_skip(event, self.stats)
        if data is None:
            return
        if isinstance(data, RecordUploaded):
            changed = await self._uploaded(event, data)
        elif isinstance(data, RecordDeleted):
            changed = await self._deleted(event, data)
        else:
            return
        if changed:
            self.stats.applied += 1
            log.info("record.rebuilt", event_type=event.type, record_id=data.record_id)
        else:
            self.stats.unchanged += 1

    def _manifest(self, data: RecordUploaded) -> RecordManifest | None:
        if data.signed_manifest is None:
            self.stats.without_manifest += 1
            log.warning("record.rebuild_without_manifest", record_id=data.record_id)
            return None
        try:
            manifest = verify_manifest(data.signed_manifest)
        except SignatureInvalid as exc:
            return self._refuse(data, str(exc))
        if hashlib.sha256(canonical_json(data.signed_manifest)).hexdigest() != (
            data.manifest_sha256
        ):
            return self._refuse(data, "manifest_sha256 differs")
        if (manifest.patient_id, manifest.record_id) != (data.patient_id, data.record_id):
            return self._refuse(data, "another patient or record")
        return manifest

    def _refuse(self, data: RecordUploaded, why: str) -> RecordManifest | None:
        """Count and log a manifest that does not match its event; None."""
        self.stats.refused += 1
        log.warning("record.rebuild_refused", record_id=data.record_id, reason=why)
        return None

    async def _uploaded(self, event: Envelope, data: RecordUploaded) -> bool:
        manifest = self._manifest(data)
        if manifest is None or data.signed_manifest is None:
            return False
        existing = await self.store.get(data.patient_id, data.record_id)
        if existing is None:
            at = data.uploaded_at or event.time
            doc: Document = {
                "_id": record_key(data.patient_id, data.record_id),
                "patient_id": data.patient_id,
                "record_id": data.record_id,
                "upload_id": f"rebuilt-{data.record_id}",
                "status": "committed",
                "uploaded_by": data.uploaded_by,
                "uploader_role": None,
                "uploader_org": None,
                "signed_manifest": data.signed_manifest,
                "manifest_sha256": data.manifest_sha256,
                "segments": [segment_summary(e) for e in manifest.segments],
                "stored": {
                    e.name: {"size": e.size, "sha256": e.sha256, "at": at}
                    for e in manifest.segments
                },
                "created_at": at,
                "touched_at": at,
                "committed_at": at,
                "rebuilt_from": str(event.id),
            }
            return await self.store.restore(doc)
        if existing["status"] != "committed" or existing["manifest_sha256"] == data.manifest_sha256:
            return False
        old = RecordManifest.model_validate(existing["signed_manifest"]["manifest"])
        if not _moves_up(old, manifest):
            return False  # an older re-wrap arriving late
        update = {"signed_manifest": data.signed_manifest, "manifest_sha256": data.manifest_sha256}
        return await self.store.restore_manifest(
            data.patient_id, data.record_id, existing["manifest_sha256"], update
        )

    async def _deleted(self, event: Envelope, data: RecordDeleted) -> bool:
        existing = await self.store.get(data.patient_id, data.record_id)
        if existing is None or existing["status"] != "committed":
            return False
        tombstone = tombstone_doc(existing, deleted_by=data.deleted_by, at=event.time)
        return await self.store.restore_tombstone(data.patient_id, data.record_id, tombstone)


def _moves_up(old: RecordManifest, new: RecordManifest) -> bool:
    """Same segments, every capsule version the same or newer (what a re-wrap does)."""
    if [e.name for e in old.segments] != [e.name for e in new.segments]:
        return False
    pairs = zip(old.segments, new.segments, strict=True)
    return all(a.capsule_version <= b.capsule_version for a, b in pairs)

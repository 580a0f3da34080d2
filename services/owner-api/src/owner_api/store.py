"""owner-api's persistence contract: what its use cases need, Mongo or memory behind it.

``records``: one document per (patient, record), ``_id = "<patient>/<record>"``, and
one per (patient, upload id): both are unique::

    {patient_id, record_id, upload_id, status: pending|committed|deleting|deleted|abandoned,
     uploaded_by, signed_manifest, manifest_sha256, segments: [summary...],
     tags: {segment: [hex...]} (pending only), stored: {segment: {size, sha256, at}},
     created_at, touched_at, committed_at, deleted_at, deleted_by}

``contributors``: ``_id "<patient>/<org>"``: {patient_id, org_id, added_at}

``outbox``: events written in the same transaction as the state change they announce,
``_id = "<type>:<aggregate key>"`` (so each change is announced once; see each
use case for its key), relayed to Kafka by :mod:`phr.service.outbox`. The record and
the access-control stores of one deployment share one outbox.

The access-control collections (:class:`AclStore`)::

    grants       _id "<patient>/<grant>": {patient_id, grant_id, grantee_user_id,
                 grantee_group, group_id, receiving_pk, segments, not_before, expires_at,
                 data_from, purpose, emergency, threshold, key_versions: [{segment,
                 key_version}], granted_by, on_behalf_of, status, content_sha256,
                 created_at, revoked_at, revoked_by, revoked_on_behalf_of}
    patients     _id patient: {versions: {segment: n}, signed_keys, emergency_segments}
    delegations  _id "<patient>/<delegate>": {patient_id, delegate_user_id, delegation_id,
                 segments, active, sealed_keys: {segment: {version: b64u}}, changed_at}

Every method is scoped by patient: ids of another patient find and change nothing.
Documents are copies: changing one a store returned (or was given) never changes the
stored state.

Implementations: :mod:`owner_api.mongo_store` (the service), :mod:`owner_api.memory`
(the fast tier); ``tests/contracts/test_owner_api_store.py`` holds both to this contract.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final, Protocol

from phr.service.mongo import Document

#: the fields a *slim* upload leaves out (tens of KB for a large record)
SLIM_LEAVES_OUT: Final = ("tags", "signed_manifest")
#: the fields :meth:`RecordStore.stale_pending` answers with (and ``_id``)
STALE_FIELDS: Final = ("patient_id", "record_id", "segments", "touched_at", "status")


class Duplicate(Exception):
    """A unique key (record id or upload id of a patient) is taken."""


def owned_key(patient_id: str, object_id: str) -> str:
    """The store key of an id a client chose (record, grant, contributor, delegate): kept
    under its patient, so another patient naming the same id reaches another document."""
    return f"{patient_id}/{object_id}"


def record_key(patient_id: str, record_id: str) -> str:
    return owned_key(patient_id, record_id)


def tombstone_doc(doc: Document, *, deleted_by: str, at: datetime) -> Document:
    """What remains of a deleted record: no signed manifest, hence no capsule."""
    keep = ("patient_id", "record_id", "upload_id", "uploaded_by", "manifest_sha256")
    return {k: doc[k] for k in keep} | {
        "status": "deleted",
        "segments": doc["segments"],
        "created_at": doc["created_at"],
        "committed_at": doc.get("committed_at"),
        "touched_at": at,
        "deleted_at": at,
        "deleted_by": deleted_by,
    }


class RecordStore(Protocol):
    """Records through their life (pending, committed, deleting, deleted; abandoned),
    the patient's contributors, and the outbox of the records' events.

    A change whose outbox id is taken was announced before: it answers False and
    writes nothing, never an error of the database.
    """

    async def insert_pending(self, doc: Document) -> None:
        """Insert a new upload's document (``_id`` from :func:`record_key`); raise
        :class:`Duplicate` and write nothing if the record id or the patient's upload
        id is taken (by any status, a tombstone too)."""
        ...

    async def get(self, patient_id: str, record_id: str) -> Document | None:
        """The record's document in whatever status, or None."""
        ...

    async def by_upload(
        self, patient_id: str, upload_id: str, *, slim: bool = False
    ) -> Document | None:
        """The patient's document of ``upload_id``, or None; ``slim`` leaves out
        :data:`SLIM_LEAVES_OUT` (the segment path needs neither)."""
        ...

    async def touch(self, patient_id: str, record_id: str) -> bool:
        """Set ``touched_at`` to now on a pending upload (keeps the sweeper away);
        False, nothing changed, if it is not pending."""
        ...

    async def mark_stored(
        self, patient_id: str, record_id: str, segments: dict[str, tuple[int, str]]
    ) -> Document | None:
        """Note that segments' blobs are stored (name -> size, SHA-256) under
        ``stored.<name>`` (other segments' entries kept) and touch the upload; the upload
        as it is now (slim), or None and nothing changed if it is not pending.
        Repeating it rewrites the same entries."""
        ...

    async def commit(
        self, patient_id: str, record_id: str, outbox_doc: Document, at: datetime | None = None
    ) -> bool:
        """pending -> committed (``committed_at`` = ``touched_at`` = ``at`` or now, the
        tags dropped) and ``outbox_doc`` written, atomically; False and nothing written
        if it is not pending (a retry of a done commit announces nothing again)."""
        ...

    async def replace_manifest(
        self,
        patient_id: str,
        record_id: str,
        expected_sha256: str,
        update: Document,
        outbox_doc: Document,
    ) -> bool:
        """Set ``update`` (a re-wrapped manifest) on a committed record whose manifest is
        still ``expected_sha256``, with ``outbox_doc``, atomically; False and nothing
        written otherwise (a concurrent re-wrap won, or the record is gone)."""
        ...

    async def start_delete(self, patient_id: str, record_id: str, by: str) -> Document | None:
        """committed -> deleting (hidden from reads, ``deleted_by`` = ``by``); the document
        as it is now whatever its status (a retry finds it deleting or deleted), or None
        if there is no such record."""
        ...

    async def tombstone(
        self, patient_id: str, record_id: str, tombstone: Document, outbox_doc: Document
    ) -> bool:
        """deleting -> deleted: the document replaced by ``tombstone`` (same ``_id``) and
        ``outbox_doc`` written, atomically; False and nothing written if not deleting."""
        ...

    async def claim_abandoned(
        self, patient_id: str, record_id: str, touched_at: datetime | None
    ) -> bool:
        """pending -> abandoned, if untouched since ``touched_at`` (when given; the value
        read from the store); False and nothing changed otherwise (the client is back).

        An abandoned upload takes no more segments and cannot commit; its blobs are
        removed next, then the document (:meth:`remove_abandoned`).
        """
        ...

    async def remove_abandoned(self, patient_id: str, record_id: str) -> bool:
        """Delete an abandoned upload's document; False if it is not abandoned."""
        ...

    async def stale_pending(self, before: datetime, limit: int = 100) -> list[Document]:
        """Pending uploads untouched since ``before`` and abandoned ones not yet removed,
        of every patient, at most ``limit``, with :data:`STALE_FIELDS` only."""
        ...

    async def list_records(
        self, patient_id: str, *, include_deleted: bool, limit: int
    ) -> list[Document]:
        """The patient's committed records (and tombstones if ``include_deleted``; never
        pending, deleting or abandoned ones), newest ``created_at`` first then by ``_id``,
        at most ``limit``, without :data:`SLIM_LEAVES_OUT`."""
        ...

    # ---------------------------------------------------------------- rebuilt from events
    # (no outbox event: the event being applied is the announcement)

    async def restore(self, doc: Document) -> bool:
        """Insert a record rebuilt from its ``record.uploaded``; False (nothing written)
        if the record or its upload id exists already."""
        ...

    async def restore_manifest(
        self, patient_id: str, record_id: str, expected_sha256: str, update: Document
    ) -> bool:
        """As :meth:`replace_manifest` without an event; False if nothing changed."""
        ...

    async def restore_tombstone(self, patient_id: str, record_id: str, tombstone: Document) -> bool:
        """A committed record replaced by ``tombstone`` (from ``record.deleted``); False
        if it is not committed."""
        ...

    # ---------------------------------------------------------------- contributors

    async def add_contributor(self, patient_id: str, org_id: str) -> Document:
        """Authorise ``org_id`` to upload for the patient; idempotent: adding it again
        keeps and returns the first document (its ``added_at``)."""
        ...

    async def remove_contributor(self, patient_id: str, org_id: str) -> bool:
        """False if ``org_id`` was not a contributor of the patient."""
        ...

    async def contributors_of(self, patient_id: str) -> list[Document]:
        """The patient's contributors by ascending ``org_id``."""
        ...

    async def is_contributor(self, patient_id: str, org_id: str) -> bool: ...


class AclStore(Protocol):
    """Grants, the patient's key versions and emergency segments, delegations.

    Every change that announces an event writes its outbox document(s) in the same
    transaction; an outbox id that is taken means the change was made already (a
    retry): the call answers False (or :class:`Duplicate`) and writes nothing, never
    an error of the database.
    """

    async def insert_grant(self, doc: Document, outbox_doc: Document) -> bool:
        """Insert the grant (``_id "<patient>/<grant>"``) and its ``acl.granted``
        atomically; False and nothing written if the grant id or the outbox id is taken
        (the caller compares the stored grant's terms)."""
        ...

    async def get_grant(self, patient_id: str, grant_id: str) -> Document | None: ...

    async def list_grants(self, patient_id: str) -> list[Document]:
        """The patient's grants, every status, by ascending ``created_at``."""
        ...

    async def add_key_versions(
        self, patient_id: str, grant_id: str, versions: list[Document], outbox_doc: Document
    ) -> bool:
        """Add ``versions`` ({segment, key_version}) to an active grant's
        ``key_versions`` (a set: one held already is not added twice) with
        ``outbox_doc``, atomically; False and nothing written if the grant is not active
        or the outbox id is taken (these versions were announced before)."""
        ...

    async def revoke_grant(
        self, patient_id: str, grant_id: str, update: Document, outbox_doc: Document
    ) -> bool:
        """active -> revoked (with ``update``: ``revoked_at``, ``revoked_by`` …) and
        ``acl.revoked``, atomically; False and nothing written if not active (a retry)."""
        ...

    async def patient(self, patient_id: str) -> Document:
        """The patient's key document; ``{"_id": patient_id}`` if none was written."""
        ...

    async def rotate(
        self,
        patient_id: str,
        segments: list[str],
        events: Callable[[dict[str, int]], list[Document]],
    ) -> dict[str, int]:
        """Each segment's version + 1 (from 1 when never rotated; other segments kept)
        and the outbox documents ``events(new versions)``, atomically; the new versions.
        Not idempotent: each call is a rotation (the events' ids name the new versions);
        :class:`Duplicate` and nothing written if one of their ids is taken."""
        ...

    async def set_patient_fields(self, patient_id: str, fields: Document) -> None:
        """Set ``fields`` on the patient's key document (created if absent), others
        kept; announces nothing."""
        ...

    async def get_delegation(self, patient_id: str, delegate_id: str) -> Document | None: ...

    async def delegations_of(self, patient_id: str) -> list[Document]:
        """The patient's delegations, active or ended, by ascending ``_id``."""
        ...

    async def put_delegation(self, doc: Document, outbox_doc: Document) -> bool:
        """Write the delegation (``doc`` replaces the one of its ``_id``) and its
        ``delegation.changed``, atomically; False and nothing written if the outbox id
        is taken (this change was written before)."""
        ...

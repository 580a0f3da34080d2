"""The patient's segment keys: current versions, published public keys, rotation,
re-wrapped manifests, and the segments break-glass may open.

- ``versions``: the current key version of each segment (1 until rotated). Contributors
  and the SDK encrypt new records to it; grants need a key grant for it.
- Rotation (the patient only: only his master secret yields the new keys) moves
  segments to version + 1 and emits one ``key.rotated`` each; the SDK then publishes
  the new public keys and re-grants the grants still active.
- Re-wrapping: the SDK re-wraps older records' capsules to the new version (capsules
  only, ciphertext untouched) and replaces the record's signed manifest here. owner-api
  accepts a new manifest only if it differs from the stored one in capsules (and their
  version, which may only move up to the current one) and is signed by the patient, and
  announces ``record.uploaded`` again with the new capsules and the original upload time
  so that SRS nodes re-encrypt the new capsule from then on: kfrags of the old version
  (a revoked grantee's, or copies an SRS node kept) open nothing of that record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import structlog

from owner_api.errors import (
    GrantConflict,
    GrantInvalid,
    ManifestInvalid,
    NotDelegated,
    RecordGone,
    RecordNotFound,
)
from owner_api.records.manifests import uploaded_event
from owner_api.sharing.delegations import check_segments, is_patient
from owner_api.store import AclStore, RecordStore, record_key
from phr.api.ids import patient_key_id
from phr.api.owner import ManifestIn
from phr.crypto.canonical import canonical_json
from phr.crypto.manifest import RecordManifest, verify_manifest
from phr.crypto.published_keys import verify_patient_keys
from phr.crypto.signing import SignatureInvalid, VerifyKey
from phr.events.acl import KeyRotated
from phr.identity.tokens import Principal
from phr.service.mongo import Document
from phr.service.outbox import EventMaker, outbox_doc

log = structlog.get_logger("owner_api.sharing.keys")


def _own_key(caller: Principal, author_b64: str) -> None:
    if caller.key_fp is None or VerifyKey.from_b64(author_b64).fingerprint() != caller.key_fp:
        raise ManifestInvalid("not signed by the caller's enrolled key")


def check_rewrap(old: RecordManifest, new: RecordManifest, versions: dict[str, int]) -> None:
    """Only capsules (and their version, upwards to the current one) may differ."""
    same = ("format", "version", "patient_id", "record_id", "created_at")
    if any(getattr(old, f) != getattr(new, f) for f in same):
        raise ManifestInvalid("a re-wrapped manifest keeps the record's identity")
    if [e.name for e in old.segments] != [e.name for e in new.segments]:
        raise ManifestInvalid("a re-wrapped manifest keeps the record's segments")
    for a, b in zip(old.segments, new.segments, strict=True):
        fixed = a.model_dump(exclude={"capsule", "capsule_version"})
        if fixed != b.model_dump(exclude={"capsule", "capsule_version"}):
            raise ManifestInvalid(f"segment {a.name}: only its capsule may change")
        if not a.capsule_version <= b.capsule_version <= versions.get(a.name, 1):
            raise ManifestInvalid(
                f"segment {a.name}: capsule version {b.capsule_version} is not between "
                f"{a.capsule_version} and the current {versions.get(a.name, 1)}"
            )


class KeyService:
    def __init__(
        self,
        acl: AclStore,
        records: RecordStore,
        make_event: EventMaker,
        *,
        on_outbox: Callable[[], None] = lambda: None,
    ) -> None:
        self.acl = acl
        self.records = records
        self.make_event = make_event
        self._on_outbox = on_outbox

    async def keys(self, patient_id: str) -> Document:
        """Current versions and signed public keys (public: contributors read them)."""
        return await self.acl.patient(patient_id)

    async def publish(
        self, caller: Principal, patient_id: str, signed: dict[str, object]
    ) -> Document:
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient himself publishes his keys")
        try:
            keys = verify_patient_keys(signed)
        except SignatureInvalid as exc:
            raise GrantInvalid(f"signed keys rejected: {exc}") from None
        _own_key(caller, keys.author)
        if keys.patient_id != patient_id:
            raise GrantInvalid("the key document is for another patient")
        check_segments(keys.segments, GrantInvalid)
        versions = (await self.acl.patient(patient_id)).get("versions", {})
        stale = [s for s, k in keys.segments.items() if k.version != int(versions.get(s, 1))]
        if stale:
            raise GrantConflict(f"not the current key version of {stale}: rotate first")
        await self.acl.set_patient_fields(patient_id, {"signed_keys": signed})
        return await self.acl.patient(patient_id)

    async def rotate(
        self, caller: Principal, patient_id: str, segments: list[str]
    ) -> dict[str, int]:
        """Each segment to version + 1 and one ``key.rotated`` per segment."""
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient rotates keys (only he can derive them)")
        names = check_segments(segments, GrantInvalid)

        def events(new: dict[str, int]) -> list[Document]:
            return [
                outbox_doc(
                    self.make_event,
                    "key.rotated",
                    KeyRotated(
                        patient_id=patient_id, segment=s, new_version=v, rotated_by=caller.sub
                    ),
                    subject=patient_id,
                    key=patient_key_id(patient_id, s, v),
                )
                for s, v in new.items()
            ]

        new = await self.acl.rotate(patient_id, names, events)
        self._on_outbox()
        log.info("keys.rotated", patient_id=patient_id, versions=new)
        return new

    async def set_emergency(
        self, caller: Principal, patient_id: str, segments: list[str]
    ) -> list[str]:
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient chooses what break-glass may open")
        names = check_segments(segments, GrantInvalid)
        await self.acl.set_patient_fields(patient_id, {"emergency_segments": names})
        return names

    async def replace_manifest(
        self, caller: Principal, patient_id: str, record_id: str, body: ManifestIn
    ) -> Document:
        """Store a re-wrapped manifest and announce the new capsules (once per manifest)."""
        if not is_patient(caller, patient_id):
            raise NotDelegated("only the patient re-wraps his records")
        doc = await self.records.get(patient_id, record_id)
        if doc is None or doc["status"] in ("pending", "abandoned"):
            raise RecordNotFound(f"no record {record_id} for this patient")
        if doc["status"] != "committed":
            raise RecordGone(f"record {record_id} was deleted")
        try:
            new = verify_manifest(body.signed_manifest)
        except SignatureInvalid as exc:
            raise ManifestInvalid(f"signed manifest rejected: {exc}") from None
        _own_key(caller, new.author)
        digest = hashlib.sha256(canonical_json(body.signed_manifest)).hexdigest()
        if digest == doc["manifest_sha256"]:
            return doc
        old = RecordManifest.model_validate(doc["signed_manifest"]["manifest"])
        versions = (await self.acl.patient(patient_id)).get("versions", {})
        check_rewrap(old, new, versions)
        updated = {**doc, "manifest_sha256": digest, "signed_manifest": body.signed_manifest}
        uploaded_at = doc.get("committed_at") or doc["created_at"]
        event = outbox_doc(
            self.make_event,
            "record.uploaded",
            uploaded_event(updated, new, uploaded_at),
            subject=patient_id,
            key=f"{record_key(patient_id, record_id)}/{digest}",
        )
        change = {"signed_manifest": body.signed_manifest, "manifest_sha256": digest}
        if not await self.records.replace_manifest(
            patient_id, record_id, doc["manifest_sha256"], change, event
        ):
            raise GrantConflict("the record changed meanwhile; fetch it and re-wrap again")
        self._on_outbox()
        log.info("record.rewrapped", patient_id=patient_id, record_id=record_id)
        found = await self.records.get(patient_id, record_id)
        assert found is not None
        return found

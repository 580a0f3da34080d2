"""owner-api rebuilds a record's metadata from its events (owner_api.records.rebuild).

The store here is a dict held to the four calls the rebuild makes; the same calls on
MongoDB run in tests/e2e/test_ledger_replay.py, which replays into a real deployment.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from owner_api.memory import MemoryRecordStore
from owner_api.records.manifests import segment_summary, uploaded_event
from owner_api.records.rebuild import RecordRebuild
from phr.client import OwnerKeys, encrypt_record
from phr.crypto.canonical import canonical_json
from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import RecordManifest, sign_manifest
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event
from phr.events.records import RecordDeleted, RecordUploaded
from phr.service.outbox import signed_events
from tests.support.owner_api import BUNDLE

KEY = SigningKey.generate()
make = signed_events("owner-api", KEY)
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def _sha(signed: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(signed)).hexdigest()


def _uploaded(signed: dict[str, Any]) -> Envelope:
    manifest = RecordManifest.model_validate(signed["manifest"])
    doc = {
        "patient_id": "u_p",
        "record_id": "r1",
        "uploaded_by": "u_p",
        "manifest_sha256": _sha(signed),
        "signed_manifest": signed,
    }
    return make("record.uploaded", uploaded_event(doc, manifest, AT), subject="u_p")


@pytest.fixture(scope="module")
def author() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def signed(author: SigningKey) -> dict[str, Any]:
    record = encrypt_record(
        BUNDLE,
        patient_id="u_p",
        record_id="r1",
        keys=OwnerKeys(PatientMasterKey.generate()),
        author=author,
        validate=False,
    )
    raw: dict[str, Any] = record.signed_manifest.model_dump(mode="json")
    return raw


def _rewrapped(signed: dict[str, Any], author: SigningKey) -> dict[str, Any]:
    manifest = RecordManifest.model_validate(signed["manifest"])
    moved = [
        e.model_copy(update={"capsule_version": 2, "capsule": e.capsule[::-1]})
        for e in manifest.segments
    ]
    new = sign_manifest(manifest.model_copy(update={"segments": moved}), author)
    out: dict[str, Any] = new.model_dump(mode="json")
    return out


async def test_a_record_comes_back_as_its_upload_made_it_and_twice_changes_nothing(
    signed: dict[str, Any],
) -> None:
    store = MemoryRecordStore()
    rebuild = RecordRebuild(store)
    event = _uploaded(signed)
    await rebuild(event)
    doc = store.records["u_p/r1"]
    manifest = RecordManifest.model_validate(signed["manifest"])
    assert doc["status"] == "committed" and doc["signed_manifest"] == signed
    assert doc["segments"] == [segment_summary(e) for e in manifest.segments]
    assert doc["manifest_sha256"] == _sha(signed) and doc["committed_at"] == AT
    before = copy.deepcopy(store.records)
    await rebuild(event)
    assert store.records == before and rebuild.stats.applied == 1


async def test_a_rewrap_moves_forward_only_and_a_deletion_shreds(
    signed: dict[str, Any], author: SigningKey
) -> None:
    store = MemoryRecordStore()
    rebuild = RecordRebuild(store)
    newer = _rewrapped(signed, author)
    # The re-wrap's event is keyed apart from the upload's: it may come first.
    await rebuild(_uploaded(newer))
    await rebuild(_uploaded(signed))  # the original, late: older capsules, not applied
    assert store.records["u_p/r1"]["signed_manifest"] == newer
    deleted = make(
        "record.deleted",
        RecordDeleted(patient_id="u_p", record_id="r1", deleted_by="u_p"),
        subject="u_p",
    )
    await rebuild(deleted)
    tomb = store.records["u_p/r1"]
    assert tomb["status"] == "deleted" and "signed_manifest" not in tomb
    await rebuild(_uploaded(newer))  # replayed again after the deletion: stays deleted
    await rebuild(deleted)
    assert store.records["u_p/r1"] == tomb


async def test_a_manifest_that_does_not_match_its_event_rebuilds_nothing(
    signed: dict[str, Any],
) -> None:
    store = MemoryRecordStore()
    rebuild = RecordRebuild(store)
    event = _uploaded(signed)
    other = copy.deepcopy(signed)
    other["manifest"]["segments"][0]["size"] += 1  # the author's signature breaks
    data = event.data | {"signed_manifest": other}
    await rebuild(make("record.uploaded", _model(data), subject="u_p"))
    wrong_sha = event.data | {"manifest_sha256": "0" * 64}
    await rebuild(make("record.uploaded", _model(wrong_sha), subject="u_p"))
    old = {k: v for k, v in event.data.items() if k != "signed_manifest"}
    await rebuild(make("record.uploaded", _model(old), subject="u_p"))
    # Well signed, not of the catalog's shape: skipped, never an endless retry.
    await rebuild(make_raw("record.deleted", {"record_id": "r1"}))
    assert store.records == {}
    assert (rebuild.stats.refused, rebuild.stats.without_manifest) == (2, 1)
    assert rebuild.stats.malformed == 1


def make_raw(type: str, data: dict[str, Any]) -> Envelope:
    return new_event(
        key=KEY, source="owner-api", type=type, schemaversion=1, subject="u_p", data=data
    )


def _model(data: dict[str, Any]) -> RecordUploaded:
    return RecordUploaded.model_validate(data)

"""Records under failure and at scale: limits, corruption, S3 outage, interrupted and stale
uploads, and a 200 MiB segment streamed through owner-api and cloud-store."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
import pytest

from owner_api.mongo_store import MongoRecordStore
from owner_api.records.cloud import CloudStore
from owner_api.records.sweeper import UploadSweeper
from phr.client import OwnerKeys, PendingSegment, encrypt_record, encrypt_segment
from phr.crypto.manifest import RecordManifest, SegmentEntry, SignedRecordManifest, sign_manifest
from phr.crypto.signing import SigningKey
from phr.crypto.stream import SegmentContext
from phr.identity.tokens import TokenSigner
from phr.sdk.records import IntegrityError, RecordsError, new_record_id
from tests.support.identity import service_url
from tests.support.records import (
    MIB,
    Patient,
    blob_store,
    events_of_record,
    marked_bundle,
    mongo,
    new_patient,
    owner_record,
    plaintext_blocks,
    reset_peak,
    rss_kib,
    s3_keys,
    seeded,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def resign(patient: Patient, manifest: RecordManifest, **changes: Any) -> SignedRecordManifest:
    return sign_manifest(manifest.model_copy(update=changes), patient.user.keys.signing)


def small_record(patient: Patient) -> Any:
    return encrypt_record(
        marked_bundle("small"),
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=patient.user.keys.signing,
        validate=False,
    )


class StreamedSegment:
    """A big segment encrypted on the fly, twice identically (deterministic randomness):
    once to learn its size and SHA-256 for the manifest, then once per upload attempt."""

    def __init__(self, patient: Patient, record_id: str, name: str, size: int, seed: int) -> None:
        self.args = (patient, record_id, name, size, seed)
        first = self._pending()
        for _ in first.chunks:
            pass
        self.entry: SegmentEntry = first.entry()
        self.tags = first.tags

    def _pending(self) -> PendingSegment:
        patient, record_id, name, size, seed = self.args
        return encrypt_segment(
            plaintext_blocks(size),
            context=SegmentContext(patient.id, record_id, name, 1),
            segment_pk=patient.master.segment_public_key(name, 1),
            search_key=patient.master.search_key(name, 1),
            keywords=["glucose"],
            rand=seeded(seed),
        )

    def chunks(self) -> Iterator[bytes]:
        return self._pending().chunks


def streamed_manifest(
    patient: Patient, record_id: str, segments: list[StreamedSegment]
) -> SignedRecordManifest:
    manifest = RecordManifest(
        patient_id=patient.id,
        record_id=record_id,
        created_at=datetime.now(UTC).isoformat(),
        author=patient.user.keys.signing.verify_key.b64(),
        segments=[s.entry for s in segments],
    )
    return sign_manifest(manifest, patient.user.keys.signing)


# -------------------------------------------------------------------- limits


async def test_oversized_or_malformed_uploads_are_refused_before_anything_is_stored(
    stack: Any,
) -> None:
    patient = await new_patient(stack)
    record = small_record(patient)
    manifest = record.manifest
    tags = {n: s.tags for n, s in record.segments.items()}
    huge = [
        e.model_copy(update={"size": 600 * MIB}) if e.name == "labs" else e
        for e in manifest.segments
    ]
    async with patient.records() as records:
        cases: list[tuple[SignedRecordManifest, dict[str, list[str]], int, str, str]] = [
            (resign(patient, manifest, segments=huge), tags, 413, "upload-too-large", "labs"),
            (
                record.signed_manifest,
                {**tags, "labs": tags["labs"][:-1]},
                400,
                "upload-malformed",
                "tags",
            ),
            (
                resign(patient, manifest, patient_id="u_other"),
                tags,
                400,
                "manifest-invalid",
                "patient",
            ),
            (resign(patient, manifest, segments=[]), {}, 400, "manifest-invalid", "segment"),
        ]
        for signed, seg_tags, status, slug, word in cases:
            with pytest.raises(RecordsError) as err:
                await records.begin_upload(patient.id, signed, seg_tags, f"up-{uuid4().hex}")
            assert (err.value.status, err.value.slug) == (status, slug), err.value
            assert word in err.value.detail
        # A segment body that is not the one the manifest signs: S3 itself refuses it
        # (the presigned PUT signs the SHA-256), nothing kept.
        upload_id = f"up-{uuid4().hex}"
        state = await records.begin_upload(patient.id, record.signed_manifest, tags, upload_id)
        assert set(state.urls) == set(record.segments)
        labs = record.segments["labs"].ciphertext
        with pytest.raises(RecordsError) as err:
            await records.send_segment(state.urls["labs"], labs + b"!", len(labs) + 1)
        assert err.value.status == 400 and "BadDigest" in err.value.detail
        flipped = labs[:-1] + bytes([labs[-1] ^ 1])
        with pytest.raises(RecordsError) as err:
            await records.send_segment(state.urls["labs"], flipped, len(labs))
        assert err.value.status == 400 and "BadDigest" in err.value.detail
        with pytest.raises(RecordsError) as err:
            await records.commit_upload(patient.id, upload_id)
        assert err.value.status == 409 and "labs" in err.value.problem["missing"]
        assert await s3_keys(stack, f"{patient.id}/") == []
        # Aborting removes the pending metadata too.
        await records.abort_upload(patient.id, upload_id)
    assert await owner_record(stack, patient.id, manifest.record_id) is None


# -------------------------------------------------------------------- corruption


async def test_an_object_corrupted_in_s3_is_detected_on_read(stack: Any) -> None:
    patient = await new_patient(stack)
    record = small_record(patient)
    async with patient.records() as records:
        await records.upload_encrypted_record(record)
        rid = record.manifest.record_id
        key = f"{patient.id}/{rid}/labs/v1"
        good = record.segments["labs"].ciphertext
        bad = good[:1000] + bytes([good[1000] ^ 0x40]) + good[1001:]
        await blob_store(stack).put_raw(key, bad)
        with pytest.raises(RecordsError) as err:
            await records.download_segment(patient.id, rid, "labs")
        assert err.value.status == 502 and err.value.slug == "segment-corrupted"
        assert "SHA-256" in err.value.detail and "altered" in err.value.detail
        with pytest.raises(RecordsError):
            await records.fetch_own_record(patient.id, rid, patient.master, validate=False)
        # The other segments are intact.
        assert await records.download_segment(patient.id, rid, "notes") == (
            record.segments["notes"].ciphertext
        )


# -------------------------------------------------------------------- S3 outage


async def test_s3_stopped_mid_upload_gives_503_nothing_half_written_and_retry_works(
    stack: Any,
) -> None:
    patient = await new_patient(stack)
    rid = new_record_id()
    seg = StreamedSegment(patient, rid, "imaging", 48 * MIB, seed=7)
    signed = streamed_manifest(patient, rid, [seg])
    upload_id = f"up-{uuid4().hex}"
    stopping: asyncio.Future[None] | None = None

    async def stop_s3_midway() -> AsyncIterator[bytes]:
        nonlocal stopping
        sent = 0
        for chunk in seg.chunks():
            yield chunk
            sent += len(chunk)
            if sent >= 12 * MIB and stopping is None:
                # The 503 may come back while S3 is still stopping, and the client then
                # drops the rest of its body (this generator): the stop must finish anyway.
                stopping = asyncio.ensure_future(asyncio.to_thread(stack.stop, "seaweedfs"))
                await asyncio.shield(stopping)

    async with patient.records(timeout_s=120) as records:
        try:
            with pytest.raises(RecordsError) as err:
                await records.upload_segments(
                    signed,
                    tags={"imaging": seg.tags},
                    sources={"imaging": stop_s3_midway},
                    upload_id=upload_id,
                )
            assert stopping is not None
            assert err.value.status == 503 and err.value.retryable, err.value
            doc = await owner_record(stack, patient.id, rid)
            assert doc is not None and doc["status"] == "pending" and doc["stored"] == {}
        finally:
            if stopping is not None:
                await stopping
            await asyncio.to_thread(stack.start_s3)
        assert await s3_keys(stack, f"{patient.id}/") == []
        # The same upload again, now that S3 is back: stored and committed.
        info = await eventually(
            lambda: _retry(records, signed, seg, upload_id), timeout=60, interval=1.0
        )
        assert info.status == "committed"
        async with records.stream_segment(patient.id, rid, "imaging") as chunks:
            digest = hashlib.sha256()
            async for chunk in chunks:
                digest.update(chunk)
        assert digest.hexdigest() == seg.entry.sha256

    async def announced_once() -> bool:
        return len(await events_of_record(stack, rid, "record.uploaded")) == 1

    await eventually(announced_once, timeout=90, interval=1.0)


async def _retry(records: Any, signed: Any, seg: StreamedSegment, upload_id: str) -> Any:
    try:
        return await records.upload_segments(
            signed, tags={"imaging": seg.tags}, sources={"imaging": seg.chunks}, upload_id=upload_id
        )
    except RecordsError as exc:
        if exc.retryable:
            raise AssertionError(str(exc)) from None
        raise


# -------------------------------------------------------------------- interrupted, stale


async def test_interrupted_and_stale_uploads_leave_no_orphans(stack: Any) -> None:
    patient = await new_patient(stack)
    record = small_record(patient)
    rid = record.manifest.record_id
    upload_id = f"up-{uuid4().hex}"
    tags = {n: s.tags for n, s in record.segments.items()}
    async with patient.records() as records:
        state = await records.begin_upload(patient.id, record.signed_manifest, tags, upload_id)
        notes = record.segments["notes"].ciphertext
        await records.send_segment(state.urls["notes"], notes, len(notes))
        # A client that dies in the middle of a segment.
        big = StreamedSegment(patient, rid, "labs", 16 * MIB, seed=3)
        labs_put = state.urls["labs"]

        async def dies() -> AsyncIterator[bytes]:
            sent = 0
            for chunk in big.chunks():
                yield chunk
                sent += len(chunk)
                if sent > 4 * MIB:
                    raise ConnectionAbortedError("client crashed")

        async with httpx.AsyncClient(timeout=30) as http:
            with pytest.raises(ConnectionAbortedError):
                await http.put(
                    labs_put.url,
                    content=dies(),
                    headers=labs_put.headers | {"Content-Length": str(big.entry.size)},
                )

        async def only_notes_stored() -> bool:
            return await s3_keys(stack, f"{patient.id}/{rid}/") == [f"{patient.id}/{rid}/notes/v1"]

        await eventually(only_notes_stored, timeout=10)
        # owner-api learns what S3 holds at the commit: labs is missing, notes is kept
        with pytest.raises(RecordsError) as err:
            await records.commit_upload(patient.id, upload_id)
        assert err.value.status == 409
        assert (
            "labs" in err.value.problem["missing"] and "notes" not in err.value.problem["missing"]
        )
        state = await records.upload_state(patient.id, upload_id)
        assert state.stored == ["notes"] and set(state.urls) == set(state.missing) >= {"labs"}

        # The client never comes back: the sweeper (here run in-process against the same
        # Mongo and cloud-store, with a zero TTL) removes the blobs, then the metadata.
        seed = bytes.fromhex(stack.signing_key_file("owner-api").read_text())
        signer = TokenSigner(SigningKey.from_seed(seed), "owner-api")
        cloud = CloudStore(
            service_url(stack, "cloud-store"),
            lambda: signer.mint_service("cloud-store"),
            timeout_s=10,
        )
        async with mongo(stack) as client:
            sweeper = UploadSweeper(
                MongoRecordStore(client["phr_owner_api"]), cloud, ttl_s=0.0, interval_s=1.0
            )
            try:
                assert await sweeper.sweep_once() >= 1
            finally:
                await cloud.aclose()
        assert await s3_keys(stack, f"{patient.id}/") == []
        assert await owner_record(stack, patient.id, rid) is None
        # A late retry with the same upload id starts over and succeeds.
        info = await records.upload_encrypted_record(record, upload_id=upload_id)
        assert info.status == "committed"


# -------------------------------------------------------------------- size


async def test_a_200_mib_segment_streams_with_bounded_memory(stack: Any) -> None:
    patient = await new_patient(stack)
    rid = new_record_id()
    seg = StreamedSegment(patient, rid, "imaging", 200 * MIB, seed=11)
    signed = streamed_manifest(patient, rid, [seg])
    pids = {name: stack.pid(name) for name in ("owner-api", "cloud-store")}
    assert all(pids.values())
    baseline = {name: rss_kib(pid) for name, pid in pids.items() if pid}
    for pid in pids.values():
        assert pid and reset_peak(pid)
    async with patient.records(timeout_s=300) as records:
        info = await records.upload_segments(
            signed,
            tags={"imaging": seg.tags},
            sources={"imaging": seg.chunks},
            upload_id=f"up-{uuid4().hex}",
        )
        assert info.segments[0].size == seg.entry.size > 200 * MIB
        digest, size = hashlib.sha256(), 0
        async with records.stream_segment(patient.id, rid, "imaging") as chunks:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
    assert (size, digest.hexdigest()) == (seg.entry.size, seg.entry.sha256)
    growth = {
        name: (rss_kib(pid, "VmHWM") - baseline[name]) // 1024 for name, pid in pids.items() if pid
    }
    print("peak RSS growth MiB", growth)
    for name, mib in growth.items():
        assert mib < 150, (name, growth)


async def test_a_big_corrupted_object_breaks_the_download_and_the_sdk_says_so(
    stack: Any,
) -> None:
    """Past cloud-store's verify-before-send size (32 MiB) the check ends the stream: the
    SDK reports the broken download instead of returning altered bytes."""
    patient = await new_patient(stack)
    rid = new_record_id()
    seg = StreamedSegment(patient, rid, "imaging", 40 * MIB, seed=5)
    signed = streamed_manifest(patient, rid, [seg])
    async with patient.records(timeout_s=120) as records:
        await records.upload_segments(
            signed,
            tags={"imaging": seg.tags},
            sources={"imaging": seg.chunks},
            upload_id=f"up-{uuid4().hex}",
        )
        store = blob_store(stack)
        key = f"{patient.id}/{rid}/imaging/v1"
        data = bytearray(await store.get_bytes(key))
        data[-100] ^= 0x01
        await store.put_raw(key, bytes(data))
        del data
        with pytest.raises(IntegrityError):
            async with records.stream_segment(patient.id, rid, "imaging") as chunks:
                async for _ in chunks:
                    pass

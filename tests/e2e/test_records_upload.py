"""Records through owner-api and cloud-store, as real processes: upload, read back, delete.

A realistic Synthea record (1,184 resources, ten segments) goes up through the SDK and
comes back bit-exact; nothing readable reaches S3, Mongo or Kafka; ``record.uploaded``
is announced once however often the client retries.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.client import ContributorKeys, EncryptedRecord, OwnerKeys, encrypt_record
from phr.crypto.signing import SigningKey
from phr.fhir.segments import SEGMENTS
from phr.identity.tokens import TokenSigner
from phr.sdk.records import RecordsClient, RecordsError, new_record_id
from tests.support.identity import KgcClient, bearer, load_operator, service_url
from tests.support.records import (
    Patient,
    events_of_record,
    marked_bundle,
    mongo_contains,
    new_patient,
    owner_record,
    s3_contains,
    s3_keys,
    topic_messages,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


class Uploaded:
    def __init__(self, patient: Patient, record: EncryptedRecord, marker: str) -> None:
        self.patient = patient
        self.record = record
        self.marker = marker

    @property
    def record_id(self) -> str:
        return self.record.manifest.record_id


@pytest.fixture(scope="module")
async def uploaded(stack: Any) -> AsyncIterator[Uploaded]:
    """One marked Synthea record, encrypted by the test and uploaded through the SDK."""
    patient = await new_patient(stack)
    marker = f"PLAINTEXT-MARKER-{uuid4().hex}"
    bundle = marked_bundle(marker)
    record = encrypt_record(
        bundle,
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=patient.user.keys.signing,
    )
    async with patient.records() as records:
        info = await records.upload_encrypted_record(record)
    assert info.status == "committed"
    yield Uploaded(patient, record, marker)


async def test_every_segment_reads_back_bit_exact(uploaded: Uploaded) -> None:
    record, patient = uploaded.record, uploaded.patient
    assert len(record.segments) >= 8  # demographics, labs, notes, insurance, …
    async with patient.records() as records:
        listed = await records.list_records(patient.id)
        assert [r.record_id for r in listed] == [uploaded.record_id]
        assert {s.name for s in listed[0].segments} == set(record.segments)
        assert listed[0].uploaded_by == patient.id
        for name, seg in record.segments.items():
            got = await records.download_segment(patient.id, uploaded.record_id, name)
            assert got == seg.ciphertext, name
        detail = await records.get_record(patient.id, uploaded.record_id)
        assert detail.signed_manifest == record.signed_manifest.model_dump(mode="json")


async def test_the_patient_decrypts_his_record_into_the_same_bundle(uploaded: Uploaded) -> None:
    patient = uploaded.patient
    told: list[int] = []
    got_bytes: list[int] = []

    def on_download(total: int) -> Any:
        told.append(total)
        return got_bytes.append

    async with patient.records() as records:
        bundle = await records.fetch_own_record(
            patient.id,
            uploaded.record_id,
            patient.master,
            expected_author=patient.user.keys.signing.verify_key,
            validate=False,
            on_download=on_download,
        )
    # the progress bar is told the ciphertext's size, then every byte of it as it comes
    assert told == [sum(len(seg.ciphertext) for seg in uploaded.record.segments.values())]
    assert sum(got_bytes) == told[0] and len(got_bytes) >= len(uploaded.record.segments)
    original = marked_bundle(uploaded.marker)
    assert len(bundle["entry"]) == len(original["entry"]) == 1184
    assert [e["resource"] for e in bundle["entry"]] == [e["resource"] for e in original["entry"]]


async def test_no_plaintext_in_s3_mongo_or_kafka(stack: Any, uploaded: Uploaded) -> None:
    needle = uploaded.marker.encode()
    # The marker is in the plaintext that was encrypted …
    assert needle in json.dumps(marked_bundle(uploaded.marker)).encode()
    # … and nowhere the servers keep anything.
    assert await s3_keys(stack, f"{uploaded.patient.id}/{uploaded.record_id}/")
    assert await s3_contains(stack, needle) == []
    assert await mongo_contains(stack, needle) == []
    messages = await topic_messages(stack)
    assert messages
    assert [t for t, value in messages if needle in value] == []


async def test_record_uploaded_is_emitted_once_despite_retries(stack: Any) -> None:
    patient = await new_patient(stack)
    record = encrypt_record(
        marked_bundle("retry"),
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=patient.user.keys.signing,
        validate=False,
    )
    rid, upload_id = record.manifest.record_id, f"up-{uuid4().hex}"
    async with patient.records() as records:
        # A client that retries every step: begin twice, a segment twice, commit twice,
        # then the whole upload twice more.
        tags = {n: s.tags for n, s in record.segments.items()}
        await records.begin_upload(patient.id, record.signed_manifest, tags, upload_id)
        state = await records.begin_upload(patient.id, record.signed_manifest, tags, upload_id)
        labs = record.segments["labs"]
        for _ in range(2):
            await records.send_segment(state.urls["labs"], labs.ciphertext, len(labs.ciphertext))
        for _ in range(3):
            info = await records.upload_encrypted_record(record, upload_id=upload_id)
            assert info.status == "committed"
        # Same upload id with another manifest: refused.
        other = encrypt_record(
            marked_bundle("other"),
            patient_id=patient.id,
            record_id=rid,
            keys=OwnerKeys(patient.master),
            author=patient.user.keys.signing,
            validate=False,
        )
        with pytest.raises(RecordsError) as err:
            await records.upload_encrypted_record(other, upload_id=upload_id)
        assert err.value.status == 409
        # A later record of the same patient: once its event is on the topic, every
        # earlier event of this patient is too (same key, same partition, in order).
        later = await records.upload_record(
            marked_bundle("later"), **patient.upload_args(), validate=False
        )

    async def later_seen() -> bool:
        return len(await events_of_record(stack, later.record_id, "record.uploaded")) == 1

    await eventually(later_seen, timeout=30, interval=0.5)
    events = await events_of_record(stack, rid, "record.uploaded")
    assert len(events) == 1
    data = events[0]["data"]
    assert data["patient_id"] == patient.id and data["uploaded_by"] == patient.id
    assert {s["segment"] for s in data["segments"]} == set(record.segments)
    assert data["manifest_sha256"] == info.manifest_sha256
    assert events[0]["subject"] == patient.id and events[0]["source"] == "owner-api"


async def test_delete_removes_ciphertext_and_capsules_and_leaves_a_tombstone(stack: Any) -> None:
    patient = await new_patient(stack)
    async with patient.records() as records:
        info = await records.upload_record(
            marked_bundle("del"), **patient.upload_args(), validate=False
        )
        rid = info.record_id
        assert await s3_keys(stack, f"{patient.id}/{rid}/")
        tomb = await records.delete_record(patient.id, rid)
        assert tomb.status == "deleted" and tomb.deleted_by == patient.id
        assert (await records.delete_record(patient.id, rid)).status == "deleted"  # idempotent
        assert await records.list_records(patient.id) == []
        assert [
            r.record_id for r in await records.list_records(patient.id, include_deleted=True)
        ] == [rid]
        for call in (
            records.download_segment(patient.id, rid, "labs"),
            records.get_record(patient.id, rid),
        ):
            with pytest.raises(RecordsError) as err:
                await call
            assert err.value.status == 410
    assert await s3_keys(stack, f"{patient.id}/{rid}/") == []
    doc = await owner_record(stack, patient.id, rid)
    assert doc is not None and doc["status"] == "deleted"
    assert "signed_manifest" not in doc and "capsule" not in json.dumps(doc, default=str)

    async def deleted_seen() -> bool:
        return len(await events_of_record(stack, rid, "record.deleted")) == 1

    await eventually(deleted_seen, timeout=30, interval=0.5)


async def test_contributors_upload_only_when_authorised(stack: Any) -> None:
    patient = await new_patient(stack)
    async with httpx.AsyncClient(timeout=10) as http:
        kgc = KgcClient(http, service_url(stack, "kgc"))
        admin = await kgc.login(load_operator(stack))
        org = await kgc.create_org(admin, f"Hospital {uuid4().hex[:6]}", "hospital")
        doctor = await kgc.staff(admin, "doctor", org)
        doctor_token = await kgc.login(doctor)
    # The contributor encrypts to the segment keys the patient published.
    published = {s: (patient.master.segment_public_key(s, 1), 1) for s in SEGMENTS}
    bundle = marked_bundle("contrib")
    args: dict[str, Any] = {
        "patient_id": patient.id,
        "keys": ContributorKeys(published),
        "author": doctor.keys.signing,
        "validate": False,
    }
    async with RecordsClient(service_url(stack, "owner-api"), doctor_token) as as_doctor:
        with pytest.raises(RecordsError) as err:
            await as_doctor.upload_record(bundle, **args)
        assert err.value.status == 403
        async with patient.records() as records:
            await records.add_contributor(patient.id, org)
            assert await records.contributors(patient.id) == [org]
            info = await as_doctor.upload_record(bundle, **args)
            assert info.uploaded_by == doctor.user_id
            # The patient reads what the hospital wrote; the hospital cannot read it back.
            got = await records.fetch_own_record(
                patient.id, info.record_id, patient.master, validate=False
            )
            assert len(got["entry"]) == len(bundle["entry"])
            with pytest.raises(RecordsError) as err:
                await as_doctor.download_segment(patient.id, info.record_id, "labs")
            assert err.value.status == 403
            await records.remove_contributor(patient.id, org)
        with pytest.raises(RecordsError) as err:
            await as_doctor.upload_record(bundle, **args)
        assert err.value.status == 403


async def test_a_manifest_signed_by_another_key_is_refused(stack: Any) -> None:
    patient = await new_patient(stack)
    record = encrypt_record(
        marked_bundle("forged"),
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=SigningKey.generate(),  # not the key the KGC enrolled
        validate=False,
    )
    async with patient.records() as records:
        with pytest.raises(RecordsError) as err:
            await records.upload_encrypted_record(record)
    assert err.value.status == 400 and err.value.slug == "manifest-invalid"
    assert "enrolled key" in err.value.detail
    assert await owner_record(stack, patient.id, record.manifest.record_id) is None


async def test_cloud_store_admits_services_only(stack: Any, uploaded: Uploaded) -> None:
    url = service_url(stack, "cloud-store")
    key = f"{uploaded.patient.id}/{uploaded.record_id}/labs/v1"
    seed = bytes.fromhex(stack.signing_key_file("owner-api").read_text())
    service_token = TokenSigner(SigningKey.from_seed(seed), "owner-api").mint_service("cloud-store")
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.get(f"{url}/v1/blobs/{key}")
        assert resp.status_code == 401
        resp = await http.get(f"{url}/v1/blobs/{key}", headers=bearer(uploaded.patient.token))
        assert resp.status_code == 403
        assert resp.headers["content-type"] == "application/problem+json"
        resp = await http.post(
            f"{url}/v1/search",
            json={"trapdoors": ["0" * 64]},
            headers=bearer(uploaded.patient.token),
        )
        assert resp.status_code == 403
        resp = await http.get(f"{url}/v1/blobs/{key}", headers=bearer(service_token))
        assert resp.status_code == 200
        assert resp.content == uploaded.record.segments["labs"].ciphertext

"""owner-api served in-process (services/owner-api/tests/test_api.py): its real app over
the memory stores, with cloud-store and the KGC directory faked.

The fast tier may fake S3: :class:`FakeCloud` presigns URLs of its own and holds what the
test "PUTs" there, checking the signed SHA-256 and size at commit as cloud-store checks
S3's; the e2e tier covers the real one (tests/e2e/test_records_upload.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from owner_api.errors import SegmentNotFound
from owner_api.memory import MemoryAclStore, MemoryRecordStore
from owner_api.records.cloud import BlobDownload, PresignedPut
from phr.api.ids import key_grant_id
from phr.client import OwnerKeys, encrypt_record
from phr.client.grant import SrsNode, make_grant
from phr.client.record import EncryptedRecord
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.seal import NodeSecretKey
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.envelope import Envelope
from tests.support.asgi import auth_header, user_token

S3 = "https://s3.test/"
NODES = [SrsNode(f"srs-{i}", NodeSecretKey.generate().public_key()) for i in (1, 2, 3)]
BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"text": "Ann"}]}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final"}},
    ],
}


@dataclass
class FakeCloud:
    """cloud-store and its S3 in memory (:class:`owner_api.records.cloud.CloudStorage`)."""

    objects: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def put(self, url: str, data: bytes) -> None:
        """What a client's PUT to a presigned URL stores."""
        assert url.startswith(S3), url
        self.objects[url.removeprefix(S3)] = data

    async def presign_puts(
        self, objects: list[tuple[str, str, int]], expires_s: int
    ) -> dict[str, PresignedPut]:
        at = datetime.now(UTC) + timedelta(seconds=expires_s)
        return {
            key: PresignedPut(f"{S3}{key}", {"x-amz-checksum-sha256": sha}, at)
            for key, sha, _ in objects
        }

    async def verify_stored(self, objects: list[tuple[str, str, int]]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {"stored": [], "missing": [], "mismatched": []}
        for key, sha, size in objects:
            data = self.objects.get(key)
            if data is None:
                out["missing"].append(key)
            elif (hashlib.sha256(data).hexdigest(), len(data)) != (sha, size):
                out["mismatched"].append(key)
            else:
                out["stored"].append(key)
        return out

    async def open_blob(self, key: str) -> BlobDownload:
        data = self.objects.get(key)
        if data is None:
            raise SegmentNotFound(f"ciphertext {key} is missing from storage")

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return BlobDownload(len(data), hashlib.sha256(data).hexdigest(), chunks())

    async def delete_blob(self, key: str) -> None:
        self.objects.pop(key, None)

    async def put_tags(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None:
        self.tags[f"{patient_id}/{record_id}"] = segments

    async def delete_tags(self, patient_id: str, record_id: str) -> None:
        self.tags.pop(f"{patient_id}/{record_id}", None)


@dataclass
class FakeDirectory:
    """The KGC's users and groups (:class:`owner_api.sharing.directory.Directory`)."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    def enrol(self, user_id: str, role: str, keys: UserKeys) -> None:
        self.users[user_id] = {
            "user_id": user_id,
            "role": role,
            "status": "active",
            "umbral_public": keys.pre.public_key().b64(),
        }

    async def user(self, user_id: str) -> dict[str, Any] | None:
        return self.users.get(user_id)

    async def group(self, group_id: str) -> dict[str, Any] | None:
        return None


@dataclass
class Person:
    """A user with keys and a KGC-signed token naming his signing key."""

    id: str
    role: str
    keys: UserKeys
    headers: dict[str, str]


def person(kgc: SigningKey, user_id: str, role: str, org: str | None = None) -> Person:
    keys = UserKeys.generate()
    fp = keys.signing.verify_key.fingerprint()
    token = user_token(kgc, user_id, role, org=org, key_fp=fp)
    return Person(user_id, role, keys, auth_header(token))


def record_for(patient: Person, author: Person, master: PatientMasterKey, rid: str) -> Any:
    """An encrypted record of ``patient``, signed by ``author``."""
    return encrypt_record(
        BUNDLE,
        patient_id=patient.id,
        record_id=rid,
        keys=OwnerKeys(master),
        author=author.keys.signing,
        validate=False,
    )


def upload_body(record: EncryptedRecord, upload_id: str) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "signed_manifest": record.signed_manifest.model_dump(mode="json"),
        "tags": {name: seg.tags for name, seg in record.segments.items()},
    }


def grant_body(
    patient: Person,
    master: PatientMasterKey,
    grantee: Person,
    grant_id: str,
    segment: str,
    author: Person | None = None,
) -> dict[str, Any]:
    """A grant of ``segment`` (key version 1) to ``grantee``, kfrags for :data:`NODES`,
    signed by ``author`` (the patient, or his delegate)."""
    g = make_grant(
        master,
        (author or patient).keys.signing,
        patient_id=patient.id,
        grantee_id=grantee.id,
        grantee_pk=grantee.keys.pre.public_key(),
        segment=segment,
        key_version=1,
        nodes=NODES,
        threshold=2,
        grant_id=key_grant_id(grant_id, segment, 1),
    )
    key_grant = {
        "segment": segment,
        "key_version": 1,
        "signed_grant": g.signed.model_dump(mode="json"),
        "sealed_kfrags": {n: b64u_encode(s) for n, s in g.sealed_kfrags.items()},
    }
    return {
        "grant_id": grant_id,
        "grantee_user_id": grantee.id,
        "segments": [segment],
        "threshold": 2,
        "key_grants": [key_grant],
    }


@dataclass
class Owner:
    http: httpx.AsyncClient
    records: MemoryRecordStore
    acl: MemoryAclStore
    cloud: FakeCloud
    directory: FakeDirectory
    kgc: SigningKey
    key: SigningKey
    master: PatientMasterKey
    patient: Person
    woken: list[int]

    def events(self, type: str) -> list[Envelope]:
        """The outbox's events of ``type``, each checked to be signed by owner-api."""
        found = []
        for doc in self.records.outbox.values():
            event = Envelope.from_json_bytes(doc["envelope"].encode())
            if event.type == type:
                event.verify(self.key.verify_key)
                found.append(event)
        return found

    def url(self, path: str, patient: Person | None = None) -> str:
        return f"/v1/patients/{(patient or self.patient).id}{path}"

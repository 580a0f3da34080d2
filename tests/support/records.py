"""Helpers for the record tests: a patient with keys and a token, raw looks into S3, Mongo
and Kafka (to prove what is and is not stored), process memory.

    patient = await new_patient(stack)               # enrolled, logged in, master key
    async with patient.records() as records:          # phr.sdk.records.RecordsClient
        info = await records.upload_record(bundle, **patient.upload_args())
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import bson
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient

from cloud_store.blobs import BlobStore
from cloud_store.settings import S3Settings
from phr.client import OwnerKeys
from phr.crypto.keys import PatientMasterKey
from phr.fhir.synthetic import load_bundle
from phr.scenario import FIXTURE as FIXTURE
from phr.scenario import Person
from phr.sdk.records import RecordsClient
from tests.support.identity import ALL_SERVICES, KgcClient, TestUser, service_url, stack_scenario

MIB = 1 << 20


@dataclass
class Patient:
    """An enrolled patient: his user keys, master secret and access token."""

    user: TestUser
    master: PatientMasterKey
    token: str
    owner_api: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.user.user_id

    def records(self, **kw: Any) -> RecordsClient:
        return RecordsClient(self.owner_api, self.token, **kw)

    @property
    def person(self) -> Person:
        """The patient as phr.scenario's builders take him (master secret included)."""
        return replace(self.user, master=self.master)

    def upload_args(self) -> dict[str, Any]:
        return {
            "patient_id": self.id,
            "keys": OwnerKeys(self.master),
            "author": self.user.keys.signing,
        }


async def kgc_client(stack: Any, http: httpx.AsyncClient) -> KgcClient:
    return KgcClient(http, service_url(stack, "kgc"))


async def new_patient(stack: Any) -> Patient:
    """Enrolled and logged in (a token for every service); no segment keys published."""
    async with httpx.AsyncClient(timeout=10) as http, stack_scenario(stack, http) as sc:
        person = await sc.patient(publish_keys=False)
        token = await sc.login(person, ALL_SERVICES)
    assert person.master is not None
    return Patient(TestUser.of(person), person.master, token, sc.urls.owner_api)


def marked_bundle(marker: str) -> dict[str, Any]:
    """The Synthea fixture with ``marker`` in the patient's name and in a lab's text."""
    bundle = load_bundle(FIXTURE)
    marked = {"Patient": False, "Observation": False, "Condition": False}
    for entry in bundle["entry"]:
        res = entry["resource"]
        rtype = res["resourceType"]
        if rtype in marked and not marked[rtype]:
            if rtype == "Patient":
                res["name"][0]["text"] = f"{marker} patient"
            else:
                res.setdefault("code", {})["text"] = f"{marker} {rtype.lower()}"
            marked[rtype] = True
    assert all(marked.values())
    return bundle


# -------------------------------------------------------------------- S3


def blob_store(stack: Any, bucket: str = "phr-ciphertext") -> BlobStore:
    access, secret = stack.s3_credentials()
    return BlobStore(
        S3Settings(endpoint=stack.s3_endpoint, access_key=access, secret_key=secret, bucket=bucket)
    )


async def s3_keys(stack: Any, prefix: str, bucket: str = "phr-ciphertext") -> list[str]:
    client = blob_store(stack, bucket).client

    def keys() -> list[str]:
        return [str(o.object_name) for o in client.list_objects(bucket, prefix, recursive=True)]

    return await asyncio.to_thread(keys)


async def s3_contains(stack: Any, needle: bytes) -> list[str]:
    """Every object of every bucket holding ``needle`` (Kafka's own storage included)."""
    client = blob_store(stack).client

    def scan() -> list[str]:
        found = []
        for bucket in client.list_buckets():
            for obj in client.list_objects(bucket.name, recursive=True):
                resp = client.get_object(bucket.name, str(obj.object_name))
                try:
                    if needle in resp.read():
                        found.append(f"{bucket.name}/{obj.object_name}")
                finally:
                    resp.close()
                    resp.release_conn()
        return found

    return await asyncio.to_thread(scan)


# -------------------------------------------------------------------- Mongo


@asynccontextmanager
async def mongo(stack: Any) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    try:
        yield client
    finally:
        await client.close()


async def owner_record(stack: Any, patient_id: str, record_id: str) -> dict[str, Any] | None:
    async with mongo(stack) as client:
        return await client["phr_owner_api"]["records"].find_one(
            {"_id": f"{patient_id}/{record_id}"}
        )


async def mongo_contains(stack: Any, needle: bytes) -> list[str]:
    """Every document of every database (as BSON, and as JSON) holding ``needle``."""
    found = []
    async with mongo(stack) as client:
        for name in await client.list_database_names():
            db = client[name]
            for coll in await db.list_collection_names():
                async for doc in db[coll].find({}):
                    raw = bson.encode(doc)
                    text = json.dumps(doc, default=str).encode()
                    if needle in raw or needle in text:
                        found.append(f"{name}.{coll}:{doc.get('_id')}")
    return found


# -------------------------------------------------------------------- Kafka


async def topic_messages(stack: Any, topics: list[str] | None = None) -> list[tuple[str, bytes]]:
    """Every message of ``topics`` (default: all topics), read from the beginning."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        names = topics or sorted(await consumer.topics())
        parts = [
            TopicPartition(t, p) for t in names for p in (consumer.partitions_for_topic(t) or ())
        ]
        if not parts:
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        out: list[tuple[str, bytes]] = []
        pending = {tp for tp in parts if end[tp] > 0}
        while pending:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                out.extend((tp.topic, r.value or b"") for r in records)
            pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        return out
    finally:
        await consumer.stop()


async def events_of_record(stack: Any, record_id: str, type: str) -> list[dict[str, Any]]:
    found = []
    for _, value in await topic_messages(stack, ["phr.records"]):
        try:
            event = json.loads(value)
        except ValueError:
            continue  # other tests put garbage on the topics on purpose (the ledger's)
        if not isinstance(event, dict) or "data" not in event:
            continue
        if event["type"] == type and event["data"].get("record_id") == record_id:
            found.append(event)
    return found


# -------------------------------------------------------------------- processes


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise LookupError(field_name)


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def seeded(seed: int) -> Any:
    """A deterministic ``rand`` for encrypt_segment, so two passes give the same bytes."""
    return random.Random(seed).randbytes


def plaintext_blocks(total: int, block: int = MIB) -> Iterator[bytes]:
    pattern = bytes(range(256)) * (block // 256)
    sent = 0
    while sent < total:
        n = min(block, total - sent)
        yield pattern[:n]
        sent += n

"""The foundation against the real servers, with every service as a process."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from cloud_store.blobs import BlobMissing, BlobStore
from cloud_store.settings import S3Settings
from phr.crypto.signing import SigningKey
from phr.events.catalog import spec_for
from phr.events.envelope import Envelope
from phr.events.system import ServiceStarted
from phr.service.consumer import EventConsumer
from phr.service.kafka import kafka_consumer, kafka_producer
from phr.service.settings import KafkaSettings
from tests.support.ledger import service_headers
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def urls(stack: Any) -> dict[str, str]:
    return {spec.name: stack.service_url(spec) for spec in stack_specs()}


def stack_specs() -> Any:
    from tests.support.stack import stack_module

    return stack_module().SERVICES


async def readyz(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.get(url + "/readyz", timeout=5)


async def test_every_service_is_ready_and_alive(stack: Any) -> None:
    async with httpx.AsyncClient() as client:
        for name, url in urls(stack).items():
            resp = await readyz(client, url)
            assert resp.status_code == 200, (name, resp.text)
            checks = resp.json()["checks"]
            assert checks["mongo"] == "ok" and checks["kafka"] == "ok"
            if name == "cloud-store":
                assert checks["s3"] == "ok"
            assert (await client.get(url + "/healthz")).json() == {"status": "ok"}
            openapi = (await client.get(url + "/openapi.json")).json()
            assert openapi["info"]["license"]["identifier"] == "GPL-3.0-or-later"


async def ledger_events(url: str, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        resp = await client.get(
            url + "/v1/events", params={**query, "limit": 1000}, headers=headers
        )
        resp.raise_for_status()
        events: list[dict[str, Any]] = resp.json()
        return events


async def test_each_service_start_event_reaches_the_ledger_once(stack: Any) -> None:
    ledger = urls(stack)["ledger"]
    names = {
        spec.name if spec.module == "srs" else spec.module.replace("_", "-")
        for spec in stack_specs()
    }

    async def all_seen() -> bool:
        events = await ledger_events(ledger, service_headers(stack), type="service.started")
        return {e["source"] for e in events} >= names

    await eventually(all_seen, timeout=30)
    events = await ledger_events(ledger, service_headers(stack), type="service.started")
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))


def kgc_key(stack: Any) -> SigningKey:
    seed = bytes.fromhex(stack.signing_key_file("kgc").read_text())
    return SigningKey.from_seed(seed)


async def test_a_redelivered_event_changes_nothing(stack: Any) -> None:
    """The same event published twice (as after a producer retry) is recorded once."""
    event = spec_for("service.started").make(
        ServiceStarted(service="kgc", instance=f"probe-{uuid4()}", version="test"),
        key=kgc_key(stack),
        source="kgc",
        subject="kgc",
    )
    async with kafka_producer(KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)) as pub:
        await pub.publish(event)
        await pub.publish(event)
        marker = spec_for("service.started").make(
            ServiceStarted(service="kgc", instance=f"marker-{uuid4()}", version="test"),
            key=kgc_key(stack),
            source="kgc",
            subject="kgc",
        )
        await pub.publish(marker)
    ledger = urls(stack)["ledger"]

    async def marker_seen() -> bool:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"{ledger}/v1/events/{marker.id}", headers=service_headers(stack))
            return r.status_code == 200

    await eventually(marker_seen, timeout=30)
    events = await ledger_events(
        ledger, service_headers(stack), type="service.started", subject="kgc"
    )
    assert [e["id"] for e in events].count(str(event.id)) == 1


async def test_consumer_restarted_before_commit_applies_an_event_once(stack: Any) -> None:
    """Crash after processing but before the offset commit: redelivered, applied once."""
    topic = f"phr.test.{uuid4().hex[:8]}"
    group = f"g-{uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    db = client[f"phr_test_{uuid4().hex[:8]}"]
    key = SigningKey.generate()
    event = spec_for("service.started").make(
        ServiceStarted(service="probe", instance="i", version="1"),
        key=key,
        source="probe",
        subject="probe",
    )

    async def apply(ev: Envelope, session: Any) -> None:
        await db["state"].update_one(
            {"_id": "counter"}, {"$inc": {"n": 1}}, upsert=True, session=session
        )

    try:
        async with kafka_producer(kafka) as pub:
            await pub.publish(event, topic=topic)
        committed: list[str] = []
        # First consumer: processes the event, then "crashes" before committing.
        async with kafka_consumer(kafka, [topic], group) as consumer:
            worker = EventConsumer(
                consumer, db, apply, after_commit=lambda ev: committed.append(str(ev.id))
            )

            async def crash(*_: Any, **__: Any) -> None:
                raise ConnectionResetError("crashed before commit")

            consumer.commit = crash  # type: ignore[method-assign]
            with pytest.raises(ConnectionResetError):
                while worker.processed == 0:
                    await worker.poll_once(timeout_ms=500)
        assert (await db["state"].find_one({"_id": "counter"}) or {})["n"] == 1
        assert committed == [str(event.id)]  # told once its transaction committed
        # Second consumer in the same group: the event comes again, changes nothing.
        async with kafka_consumer(kafka, [topic], group) as consumer:
            worker = EventConsumer(
                consumer, db, apply, after_commit=lambda ev: committed.append(str(ev.id))
            )
            for _ in range(60):
                await worker.poll_once(timeout_ms=500)
                if worker.duplicates:
                    break
            assert worker.duplicates == 1 and worker.processed == 0
        assert committed == [str(event.id)]  # a duplicate changed nothing: not told again
        assert (await db["state"].find_one({"_id": "counter"}) or {})["n"] == 1
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_mongo_transaction_commits_and_aborts(stack: Any) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    db = client[f"phr_test_{uuid4().hex[:8]}"]
    await db.create_collection("docs")
    try:
        async with client.start_session() as session:

            async def ok(s: Any) -> None:
                await db["docs"].insert_one({"_id": "committed"}, session=s)

            await session.with_transaction(ok)

        class Abort(Exception):
            pass

        async with client.start_session() as session:

            async def fail(s: Any) -> None:
                await db["docs"].insert_one({"_id": "aborted"}, session=s)
                raise Abort

            with pytest.raises(Abort):
                await session.with_transaction(fail)
        assert await db["docs"].find_one({"_id": "committed"}) is not None
        assert await db["docs"].find_one({"_id": "aborted"}) is None
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_s3_object_round_trips(stack: Any) -> None:
    access, secret = stack.s3_credentials()
    blobs = BlobStore(
        S3Settings(
            endpoint=stack.s3_endpoint,
            access_key=access,
            secret_key=secret,
            bucket="phr-test-roundtrip",
        )
    )
    await blobs.ensure_bucket()
    payload = os.urandom(3 * 1024 * 1024 + 17)
    await blobs.put_bytes("a/b/object", payload)
    assert await blobs.get_bytes("a/b/object") == payload
    await blobs.remove("a/b/object")
    with pytest.raises(BlobMissing):
        await blobs.get_bytes("a/b/object")


async def test_readiness_follows_mongo_down_and_back_without_restart(stack: Any) -> None:
    specs = stack_specs()
    pids = {spec.name: stack.pid(spec.name) for spec in specs}
    stack.stop("mongod")
    try:
        async with httpx.AsyncClient() as client:

            async def all_down() -> bool:
                for spec in specs:
                    resp = await readyz(client, stack.service_url(spec))
                    if resp.status_code != 503:
                        return False
                    body = resp.json()
                    assert resp.headers["content-type"] == "application/problem+json"
                    assert "mongo" in body["detail"], body
                    assert body["checks"]["kafka"] == "ok"
                return True

            await eventually(all_down, timeout=30, interval=0.3)
    finally:
        await asyncio.to_thread(stack.start_mongo)
    async with httpx.AsyncClient() as client:

        async def all_up() -> bool:
            for spec in specs:
                if (await readyz(client, stack.service_url(spec))).status_code != 200:
                    return False
            return True

        await eventually(all_up, timeout=60, interval=0.3)
    assert {spec.name: stack.pid(spec.name) for spec in specs} == pids


def test_no_secret_reaches_a_log(stack: Any) -> None:
    seeds = [p.read_text().strip() for p in stack.secrets_dir.glob("*.ed25519")]
    _, s3_secret = stack.s3_credentials()
    for log in stack.log_dir.glob("*"):
        text = log.read_text(errors="replace")
        for secret in [*seeds, s3_secret]:
            assert secret not in text, log.name
    assert json.loads((stack.base / "registry.json").read_text())["services"]

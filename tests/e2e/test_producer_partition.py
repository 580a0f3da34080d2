"""Each producer of access events writes a partition of its own (KafkaSettings.producer_partition).

On Tansu's S3 engine producers that write one partition at once stall about 1 s, and on
every access user-api and the SRS nodes all publish a patient's events. The stack gives
user-api partition 0 and srs-i partition i of ``phr.access``; a topic without that
partition gets the events by key, as without the setting. Against the session stack's
real broker.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local.services import access_partitions
from phr.client import OwnerKeys, encrypt_record
from phr.events.catalog import TOPIC_ACCESS, TOPIC_SYSTEM, spec_for
from phr.events.envelope import Envelope
from phr.events.system import ServiceStarted
from phr.sdk.access import AccessDenied
from phr.sdk.records import new_record_id
from phr.service.kafka import kafka_producer
from phr.service.settings import KafkaSettings
from tests.support.records import marked_bundle
from tests.support.sharing import grant, key_of, reader, sharing_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def started(stack: Any, subject: str) -> Envelope:
    """A service.started signed by the KGC's key (the ledger takes it as the KGC's)."""
    return spec_for("service.started").make(
        ServiceStarted(service="kgc", instance=f"partition-{uuid4().hex[:8]}", version="test"),
        key=key_of(stack, "kgc"),
        source="kgc",
        subject=subject,
    )


async def create_topic(stack: Any, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()


async def read_topic(stack: Any, topic: str, done: Any, timeout_s: float = 60) -> list[Any]:
    """Every record of ``topic``'s partitions from the start, until ``done(records)``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while not done(got):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: {len(got)} records, not what was awaited")
            batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            got += [r for rs in batch.values() for r in rs]
        return got
    finally:
        await consumer.stop()


async def test_the_publisher_writes_its_partition_of_a_topic_that_has_it(stack: Any) -> None:
    topic = f"phr.partition.{uuid4().hex[:8]}"
    await create_topic(stack, topic, 3)
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    subjects = [f"patient-{i}" for i in range(8)]
    by_key: dict[str, int] = {}
    async with kafka_producer(kafka) as plain:
        assert await plain.partition_for(topic) is None
        for s in subjects:
            by_key[s] = (await plain.publish(started(stack, s), topic=topic)).partition
    assert len(set(by_key.values())) > 1  # by key the subjects spread over the partitions

    async with kafka_producer(kafka.model_copy(update={"producer_partition": 2})) as own:
        assert await own.partition_for(topic) == 2
        placed = [(await own.publish(started(stack, s), topic=topic)).partition for s in subjects]
    assert placed == [2] * len(subjects)

    # partition 3 is not there: the events go by key, where the plain publisher put them
    async with kafka_producer(kafka.model_copy(update={"producer_partition": 3})) as absent:
        assert await absent.partition_for(topic) is None
        for s in subjects:
            assert (await absent.publish(started(stack, s), topic=topic)).partition == by_key[s]


async def test_publish_many_writes_its_partition_in_order(stack: Any) -> None:
    # phr.system (the catalog's topic of service.started) has a partition 1 here
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap, producer_partition=1)
    events = [started(stack, f"patient-{i}") for i in range(6)]
    async with kafka_producer(kafka) as pub:
        assert await pub.partition_for(TOPIC_SYSTEM) == 1
        await pub.publish_many(events)
    ids = [str(e.id).encode() for e in events]

    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if any(i in (r.value or b"") for i in ids)]

    got = mine(await read_topic(stack, TOPIC_SYSTEM, lambda rs: len(mine(rs)) == len(ids)))
    assert {r.partition for r in got} == {1}
    in_offset_order = sorted(got, key=lambda r: r.offset)
    assert [Envelope.from_json_bytes(r.value).id for r in in_offset_order] == [e.id for e in events]


async def test_each_access_producer_writes_its_own_partition_of_phr_access(stack: Any) -> None:
    assert access_partitions(stack.p.srs_nodes) == stack.p.srs_nodes + 1
    world = await sharing_world(stack)
    record = encrypt_record(
        marked_bundle(f"MARK{uuid4().hex[:12]}"),
        patient_id=world.patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(world.patient.master),
        author=world.patient.user.keys.signing,
    )
    rid = record.manifest.record_id
    async with world.patient.records() as records:
        await records.upload_encrypted_record(record)
    await grant(stack, world.patient, world.doctor, ["labs"])

    async def readable() -> bool:
        async with reader(stack, world.doctor) as doctor:
            try:
                access = await doctor.request_access(world.patient.id, rid, ["labs"])
            except AccessDenied:  # a node has not consumed the grant yet
                return False
            return len(access.answered_nodes) == stack.p.srs_nodes and "labs" in access.opened

    await eventually(readable, timeout=30, interval=0.3)
    async with reader(stack, world.doctor) as doctor:  # the nodes publish at once, again
        await asyncio.gather(*(doctor.request_access(world.patient.id, rid) for _ in range(3)))

    nodes = [f"srs-{i}" for i in range(1, stack.p.srs_nodes + 1)]

    def ours(records: list[Any]) -> list[tuple[Envelope, int]]:
        out = []
        for r in records:
            if rid.encode() not in (r.value or b""):
                continue  # other tests' events, garbage and forgeries among them
            event = Envelope.from_json_bytes(r.value)
            if event.data.get("record_id") == rid:
                out.append((event, r.partition))
        return out

    def all_four_accesses(records: list[Any]) -> bool:
        """The last good read and the three at once: requested and every node's decided."""
        sources = Counter((e.type, e.source) for e, _ in ours(records))
        wanted = [("access.requested", "user-api"), *(("access.decided", n) for n in nodes)]
        return all(sources[w] >= 4 for w in wanted)

    seen = ours(await read_topic(stack, TOPIC_ACCESS, all_four_accesses))
    placed = {(e.type, e.source, p) for e, p in seen}
    expected = {("access.requested", "user-api", 0)}
    expected |= {("access.decided", n, i) for i, n in enumerate(nodes, 1)}
    assert placed == expected

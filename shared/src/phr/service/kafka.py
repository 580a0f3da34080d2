"""Kafka clients (aiokafka): a publisher of signed envelopes and an idempotent consumer.

Delivery is at least once. Tansu (our one-machine broker) has no idempotent or
transactional producer, so the producer is plain with ``acks="all"`` and every
consumer is idempotent by event id: see :mod:`phr.service.consumer`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from phr.events.catalog import spec_for
from phr.events.envelope import CLOUDEVENTS_JSON, Envelope
from phr.service.metrics import EVENTS_FAILED, EVENTS_PUBLISHED
from phr.service.settings import KafkaSettings

#: CloudEvents Kafka binding, structured content mode: the one header is the event
#: format's media type (no ``ce_*`` headers: those belong to the binary mode only)
STRUCTURED_HEADERS: list[tuple[str, bytes]] = [("content-type", CLOUDEVENTS_JSON.encode())]


def envelope_headers(event: Envelope) -> list[tuple[str, bytes]]:
    """The headers of ``event``'s record (the same for every event: structured mode)."""
    return list(STRUCTURED_HEADERS)


class EventPublisher:
    """Publishes signed envelopes to the topic the catalog names, keyed by subject.

    With a ``partition`` (``KafkaSettings.producer_partition``) every topic that has
    that partition gets this process's events there, in the order it sends them; a
    topic without it gets them by key (aiokafka's default partitioner), as without.
    """

    def __init__(self, producer: AIOKafkaProducer, partition: int | None = None) -> None:
        self.producer = producer
        self.partition = partition

    async def partition_for(self, topic: str) -> int | None:
        """This process's partition of ``topic`` if the topic has it; None: the key's."""
        if self.partition is None:
            return None
        # Cached metadata after the first call (a metadata request if the topic is new).
        partitions = await self.producer.partitions_for(topic)
        return self.partition if self.partition in partitions else None

    async def publish(self, event: Envelope, topic: str | None = None) -> RecordMetadata:
        """Send and wait for all in-sync replicas; raises if the broker does not take it."""
        name = topic or spec_for(event.type).topic
        try:
            sent = await self.producer.send_and_wait(
                name,
                event.to_json_bytes(),
                key=event.subject.encode(),
                headers=envelope_headers(event),
                partition=await self.partition_for(name),
            )
        except BaseException:
            EVENTS_FAILED.labels(event.type).inc()
            raise
        EVENTS_PUBLISHED.labels(event.type).inc()
        return sent

    async def publish_many(self, events: Sequence[Envelope]) -> None:
        """Send ``events`` in this order (one subject's stay in order on its partition)
        and wait until the broker took every one; raises if it did not take one (those
        before it may have been taken: at least once)."""
        sent = []
        for e in events:
            name = spec_for(e.type).topic
            sent.append(
                await self.producer.send(
                    name,
                    e.to_json_bytes(),
                    key=e.subject.encode(),
                    headers=envelope_headers(e),
                    partition=await self.partition_for(name),
                )
            )
        await asyncio.gather(*sent)

    async def ping(self, timeout: float) -> None:
        """Raise unless the broker answers a metadata request within ``timeout`` s."""
        ok = await asyncio.wait_for(self.producer.client.fetch_all_metadata(), timeout)
        if ok is None:
            raise ConnectionError("no metadata from Kafka")


@asynccontextmanager
async def kafka_producer(settings: KafkaSettings) -> AsyncIterator[EventPublisher]:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.client_id,
        acks="all",
        request_timeout_ms=settings.request_timeout_ms,
        # No linger: aiokafka's 1 ms linger cost ~1.2 ms per send here (measured), and
        # messages sent while a request is in flight are batched anyway.
        linger_ms=0,
        max_batch_size=settings.max_batch_bytes,
    )
    await _start_with_retry(producer.start)
    try:
        yield EventPublisher(producer, settings.producer_partition)
    finally:
        await producer.stop()


@asynccontextmanager
async def kafka_consumer(
    settings: KafkaSettings, topics: list[str], group_id: str
) -> AsyncIterator[AIOKafkaConsumer]:
    """A group consumer with manual commits, reading from the earliest unread offset."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        request_timeout_ms=max(settings.request_timeout_ms, settings.session_timeout_ms + 1000),
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
    )
    await _start_with_retry(consumer.start)
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _start_with_retry(start: Callable[[], Awaitable[None]], attempts: int = 20) -> None:
    """The broker may come up a moment after us; retry the bootstrap for ~10 s."""
    for attempt in range(attempts):
        try:
            await start()
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)

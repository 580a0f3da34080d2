"""The relay (event topics -> sequence topic) and the elected cut-marker writer.

The relay copies every record of the event topics, value, key and headers unchanged,
into the single-partition sequence topic, adding a ``phr-origin`` header
(``topic/partition/offset``). It commits its source offsets only after the broker has
acknowledged every copy, so a crash copies some records twice (never loses one), and
the sequencer keeps the first copy of an event id. aiokafka keeps one produce request
in flight per broker, so copies keep each source partition's order.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiokafka import TopicPartition

from ledger.sequencer import Applied, Sequencer
from ledger.settings import Settings
from ledger.stream import OnApplied
from phr.events.catalog import DEADLETTER_HEADERS, ORIGIN_HEADER, TOPIC_DEADLETTER, TOPICS
from phr.events.system import BlockCut
from phr.service.kafka import kafka_consumer
from phr.service.runtime import ServiceRuntime

log = structlog.get_logger("ledger.relay")


async def run_relay(runtime: ServiceRuntime, settings: Settings) -> None:
    producer = runtime.publisher.producer
    topics = sorted(TOPICS)
    async with kafka_consumer(settings.kafka, topics, f"{settings.group_id}-relay") as consumer:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            sends = []
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for r in records:
                    origin = f"{tp.topic}/{tp.partition}/{r.offset}".encode()
                    headers = [*(r.headers or ()), (ORIGIN_HEADER, origin)]
                    sends.append(
                        await producer.send(
                            settings.sequence_topic,
                            r.value,
                            key=r.key,
                            headers=headers,
                            partition=0,
                        )
                    )
                    offsets[tp] = r.offset + 1
            if sends:
                await asyncio.gather(*sends)
                await consumer.commit(offsets)
                log.debug("events.relayed", count=len(sends))


async def write_cut_markers(
    runtime: ServiceRuntime, settings: Settings, sequencer: Sequencer
) -> None:
    """Every interval, if a block is pending here, ask all replicas to cut it.

    The marker names the height it cuts; if that block is cut by size first, the
    marker is stale and ignored. Written at most once per height, again after five
    intervals if the block is still pending (the marker may predate a restart).
    """
    interval = settings.cut_marker_interval_ms / 1000
    last_height, last_at = -1, 0.0
    epoch = int(time.time())
    while True:
        await asyncio.sleep(interval)
        height = sequencer.next_height
        if not sequencer.pending:
            continue
        now = time.monotonic()
        if height == last_height and now - last_at < 5 * interval:
            continue
        marker = runtime.event(
            "ledger.cut", BlockCut(epoch=epoch, sequence=height), subject=runtime.name
        )
        await runtime.publisher.publish(marker, topic=settings.sequence_topic)
        last_height, last_at = height, now


def deadletter_hook(runtime: ServiceRuntime, settings: Settings) -> OnApplied:
    """Publish each rejected record, with its reason, to the dead-letter topic."""

    async def on_applied(applied: Applied) -> None:
        if not applied.rejected or not settings.deadletter:
            return
        producer = runtime.publisher.producer
        sends = []
        for record, rejection in applied.rejected:
            log.warning("event.rejected", offset=record.offset, reason=rejection.reason)
            values = (rejection.reason, str(record.offset), settings.group_id)
            headers = [(n, v.encode()) for n, v in zip(DEADLETTER_HEADERS, values, strict=True)]
            sends.append(
                await producer.send(
                    TOPIC_DEADLETTER, record.value, key=str(record.offset).encode(), headers=headers
                )
            )
        await asyncio.gather(*sends)

    return on_applied

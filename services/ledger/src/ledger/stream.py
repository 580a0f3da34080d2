"""Reads the sequence topic from the stored head's offset and feeds the sequencer.

Fetching and signature checks of the next batch overlap with sealing and storing the
current one (a small queue of in-flight verification futures, applied in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ledger.intake import Intake, Verdict
from ledger.sequencer import Applied, SeqRecord, Sequencer
from phr.service.settings import KafkaSettings

log = structlog.get_logger("ledger.stream")

OnApplied = Callable[[Applied], Awaitable[None]]


async def ensure_sequence_topic(settings: KafkaSettings, topic: str) -> None:
    """Create the sequence topic with exactly one partition (its order is the ledger's)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers, client_id=settings.client_id
    )
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def run_sequence_stream(
    settings: KafkaSettings,
    topic: str,
    sequencer: Sequencer,
    intake: Intake,
    on_applied: OnApplied | None = None,
    max_records: int = 2000,
    depth: int = 3,
) -> None:
    """Run until cancelled; raises on a storage error (the caller restarts from the store)."""
    await sequencer.load()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=settings.client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
        request_timeout_ms=settings.request_timeout_ms,
    )
    await consumer.start()
    queue: asyncio.Queue[tuple[list[SeqRecord], asyncio.Future[list[Verdict]]]] = asyncio.Queue(
        depth
    )

    async def read() -> None:
        while True:
            batch = await consumer.getmany(tp, timeout_ms=200, max_records=max_records)
            records = [SeqRecord(r.offset, r.value or b"") for r in batch.get(tp, [])]
            if records:
                checks = asyncio.ensure_future(intake.check([r.value for r in records]))
                await queue.put((records, checks))

    try:
        consumer.assign([tp])
        consumer.seek(tp, sequencer.position)
        log.info("sequencer.resumed", height=sequencer.head.height, offset=sequencer.position)
        reader = asyncio.create_task(read(), name="ledger-sequence-reader")
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if reader in done:
                    getter.cancel()
                    reader.result()
                    raise RuntimeError("sequence reader stopped")
                records, checks = getter.result()
                applied = await sequencer.apply(records, await checks)
                if on_applied is not None:
                    await on_applied(applied)
        finally:
            reader.cancel()
            while not queue.empty():
                queue.get_nowait()[1].cancel()
    finally:
        await consumer.stop()

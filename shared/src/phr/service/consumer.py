"""Idempotent event consumption: state change and processed-event record in one transaction.

For each message: parse the envelope, verify it (a hook), then in one Mongo transaction
insert ``{_id: "<source>:<id>"}`` into ``processed_events`` and let the handler write its
state with the same session. A redelivered event hits the unique ``_id`` and changes
nothing. Offsets are committed only after the batch is processed, so a crash replays
(never skips) events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.service.metrics import CONSUMER_LAG
from phr.service.mongo import Document
from phr.service.tracing import consumer_span, trace_ids

EventHandler = Callable[[Envelope, AsyncClientSession], Awaitable[None]]
Verifier = Callable[[Envelope], Awaitable[None]]
RejectHook = Callable[[ConsumerRecord[bytes, bytes], str], Awaitable[None]]
#: told of each event once its state change has committed (e.g. to drop a read cache)
CommitHook = Callable[[Envelope], None]

PROCESSED = "processed_events"
log = structlog.get_logger("phr.consumer")


class EventConsumer:
    """Runs one handler over a consumer, exactly-once in effect (at-least-once delivery)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        db: AsyncDatabase[Document],
        handler: EventHandler,
        *,
        verify: Verifier | None = None,
        on_reject: RejectHook | None = None,
        retry_delay_s: float = 0.5,
        types: frozenset[str] | None = None,
        processed_collection: str = PROCESSED,
        group_id: str = "",
        after_commit: CommitHook | None = None,
    ) -> None:
        self.consumer = consumer
        self.db = db
        self.handler = handler
        self.verify = verify
        self.on_reject = on_reject
        self.retry_delay_s = retry_delay_s
        #: only these event types reach the handler; others are skipped unparsed (by header)
        self.types = types
        #: two consumers sharing a database (the ledger's intake and the revocation list)
        #: must not share processed-event records, or one would skip the other's events
        self.processed_collection = processed_collection
        self.group_id = group_id
        self.after_commit = after_commit
        self.polls = 0
        self.skipped = 0
        self.processed = 0
        self.duplicates = 0
        self.rejected = 0

    async def lag(self) -> int | None:
        """Events in the assigned partitions not yet applied (None until the broker has
        told each partition's end, i.e. before the first fetch)."""
        total = 0
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                return None
            total += max(0, end - await self.consumer.position(tp))
        return total

    async def run(self) -> None:
        """Consume until cancelled."""
        while True:
            await self.poll_once(timeout_ms=500)

    async def poll_once(self, timeout_ms: int = 500) -> int:
        """Process one batch and commit its offsets; returns how many records it held."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=500)
        count = 0
        offsets: dict[TopicPartition, int] = {}
        for tp, records in batches.items():
            for record in records:
                await self._process_until_done(record)
                offsets[tp] = record.offset + 1
                count += 1
        if offsets:
            await self.consumer.commit(offsets)
        self.polls += 1
        await self._report_lag()
        return count

    async def _report_lag(self) -> None:
        """``phr_consumer_lag``: per topic, the records between our position and the end."""
        lag: dict[str, int] = {}
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue  # nothing fetched from it yet
            behind = end - await self.consumer.position(tp)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, behind)
        for topic, n in lag.items():
            CONSUMER_LAG.labels(topic, self.group_id).set(n)

    def _wanted(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Whether the record's type is one of ``types``, read without the model."""
        if self.types is None:
            return True
        for name, value in record.headers or ():
            if name == "ce_type":  # a record of before the structured mode only
                return value.decode(errors="replace") in self.types
        try:
            value = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            return True  # let the model refuse it (and the reject hook see it)
        return not isinstance(value, dict) or value.get("type") in self.types

    async def _process_until_done(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Retry a record whose handling failed (Mongo down…) until it succeeds: nothing lost."""
        with structlog.contextvars.bound_contextvars(
            topic=record.topic, partition=record.partition, offset=record.offset
        ):
            while True:
                try:
                    await self._process(record)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - retried, and logged with its type
                    log.warning("event.retrying", error_type=type(exc).__name__, error=str(exc))
                    await asyncio.sleep(self.retry_delay_s)

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        if not self._wanted(record):
            self.skipped += 1
            return
        try:
            event = Envelope.from_json_bytes(record.value or b"")
            if self.verify is not None:
                await self.verify(event)
        except EnvelopeInvalid as exc:
            self.rejected += 1
            log.warning("event.rejected", reason=str(exc))
            if self.on_reject is not None:
                await self.on_reject(record, str(exc))
            return
        if self.types is not None and event.type not in self.types:
            self.skipped += 1
            return
        with (
            consumer_span(event.type, record.topic, event.traceparent),
            structlog.contextvars.bound_contextvars(
                event_id=str(event.id),
                event_type=event.type,
                correlation_id=event.correlationid,
                **trace_ids(),
            ),
        ):
            if await self.handle_once(event):
                self.processed += 1
                log.debug("event.processed")
                if self.after_commit is not None:
                    self.after_commit(event)
            else:
                self.duplicates += 1
                log.info("event.duplicate_ignored")

    async def handle_once(self, event: Envelope) -> bool:
        """Apply the handler unless this event was applied before; True if applied now."""
        key = f"{event.source}:{event.id}"

        async def txn(session: AsyncClientSession) -> bool:
            # Look first: a duplicate-key error would abort the whole transaction. Two
            # racing copies conflict on the insert; the loser is retried and sees the winner.
            processed = self.db[self.processed_collection]
            if await processed.find_one({"_id": key}, session=session) is not None:
                return False
            await processed.insert_one(
                {"_id": key, "type": event.type, "at": datetime.now(UTC)}, session=session
            )
            await self.handler(event, session)
            return True

        async with self.db.client.start_session() as session:
            return await session.with_transaction(txn)

"""The transactional outbox: an event is stored with the change it announces, then relayed.

A service that changes its state and announces it never writes Mongo and then calls
Kafka (a crash or a broker outage between the two loses the event for good). It
writes the signed envelope as an ``outbox`` document in the same Mongo transaction as
the change; :class:`OutboxRelay`, a lifespan task, publishes unsent documents in order
and marks them sent. The envelope is built once, at the change, so a re-publish (a
crash between publishing and marking) repeats the same event id, which every consumer
ignores the second time. Kafka being down delays events, never loses them, and never
fails the request that made the change.

Each document's ``_id`` is ``"<type>:<key>"`` where the key names one change: writing
the same change twice (a retried request) fails on the unique ``_id``, and the event
already stored is the one that goes out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, Protocol
from uuid import UUID

import structlog
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from phr.crypto.signing import SigningKey
from phr.events.base import EventData
from phr.events.catalog import spec_for
from phr.events.envelope import Envelope
from phr.service.kafka import EventPublisher
from phr.service.metrics import OUTBOX_DEPTH
from phr.service.mongo import Document

log = structlog.get_logger("phr.outbox")

#: the collection, in each service's own database
OUTBOX: Final = "outbox"
SENT_KEPT_S: Final = 7 * 86400


class EventMaker(Protocol):
    """Signs an envelope as this service (``ServiceRuntime.event``); publishes nothing."""

    def __call__(
        self,
        type: str,
        data: EventData,
        *,
        subject: str,
        correlation_id: UUID | str | None = None,
        causation_id: UUID | None = None,
        traceparent: str | None = None,
    ) -> Envelope: ...


def signed_events(source: str, key: SigningKey) -> EventMaker:
    """An :class:`EventMaker` signing as ``source`` with ``key``."""

    def make(
        type: str,
        data: EventData,
        *,
        subject: str,
        correlation_id: UUID | str | None = None,
        causation_id: UUID | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        return spec_for(type).make(
            data,
            key=key,
            source=source,
            subject=subject,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent,
        )

    return make


def outbox_doc(
    make_event: EventMaker,
    type: str,
    data: EventData,
    *,
    subject: str,
    key: str,
    correlation_id: str | None = None,
) -> Document:
    """The outbox document of one event, ``_id = "<type>:<key>"``, unsent.

    ``correlation_id`` defaults to the request's (bound in the logging context)."""
    if correlation_id is None:
        correlation_id = structlog.contextvars.get_contextvars().get("correlation_id")
    event = make_event(type, data, subject=subject, correlation_id=correlation_id)
    return {
        "_id": f"{type}:{key}",
        "event_id": str(event.id),
        "envelope": event.to_json_bytes().decode(),
        "created_at": datetime.now(UTC),
        "sent_at": None,
    }


class OutboxRelay:
    """Publishes a database's unsent outbox documents, oldest first, and marks them sent."""

    def __init__(
        self, db: AsyncDatabase[Document], publisher: EventPublisher, interval_s: float
    ) -> None:
        self.outbox = db[OUTBOX]
        self.publisher = publisher
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self.published = 0

    async def ensure_indexes(self) -> None:
        await self.outbox.create_index([("sent_at", ASCENDING), ("created_at", ASCENDING)])
        # Sent events are kept a week (for inspection), then dropped: TTL indexes skip
        # documents whose field is null, so an unsent event is never dropped.
        await self.outbox.create_index("sent_at", expireAfterSeconds=SENT_KEPT_S)

    def wake(self) -> None:
        """Called after a commit: relay now rather than at the next interval."""
        self._wake.set()

    async def dispatch(self, docs: Sequence[Document], timeout: float) -> None:
        """Publish outbox documents just committed, now, within ``timeout`` seconds, and
        mark them sent; on any failure (broker down, too slow) they stay unsent and the
        relay is woken to send them: the caller's answer never waits longer, never fails.
        (The relay may send one of them too: at least once, as always.)"""
        if not docs:
            self.wake()
            return
        events = [Envelope.from_json_bytes(doc["envelope"].encode()) for doc in docs]
        try:
            await asyncio.wait_for(self.publisher.publish_many(events), timeout)
            await self.outbox.update_many(
                {"_id": {"$in": [doc["_id"] for doc in docs]}},
                {"$set": {"sent_at": datetime.now(UTC)}},
            )
        except Exception as exc:  # noqa: BLE001 - the relay retries
            log.warning("outbox.dispatch_failed", error_type=type(exc).__name__)
            self.wake()

    async def unsent(self, limit: int = 100) -> list[Document]:
        cursor = self.outbox.find({"sent_at": None}).sort("created_at", ASCENDING).limit(limit)
        return [d async for d in cursor]

    async def relay_once(self, batch: int = 500) -> int:
        """Publish what is unsent now, oldest first, in batches: each batch goes to the
        broker in order and is marked sent once the broker took all of it (a failure
        leaves the batch unsent, to be sent again: at least once, in order)."""
        sent = 0
        while docs := await self.unsent(batch):
            OUTBOX_DEPTH.set(len(docs))
            events = [Envelope.from_json_bytes(doc["envelope"].encode()) for doc in docs]
            await self.publisher.publish_many(events)
            await self.outbox.update_many(
                {"_id": {"$in": [doc["_id"] for doc in docs]}},
                {"$set": {"sent_at": datetime.now(UTC)}},
            )
            for event in events:
                # debug: one line per event would double the log volume of hot paths
                log.debug("event.published", event_type=event.type, event_id=str(event.id))
            sent += len(docs)
            OUTBOX_DEPTH.dec(len(docs))
            if len(docs) < batch:
                break
        self.published += sent
        return sent

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.relay_once()
            except Exception as exc:  # noqa: BLE001 - Kafka or Mongo down: retry later
                log.warning("outbox.relay_failed", error_type=type(exc).__name__, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)

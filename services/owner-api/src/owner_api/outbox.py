"""The outbox relay: publishes events written in the same transaction as their change.

A commit (or a deletion) writes its signed envelope into ``outbox`` together with the
state change; this task publishes unsent envelopes in order and marks them sent. The
envelope is built once, at the commit, so a re-publish (a crash between publishing and
marking) repeats the same event id, which every consumer ignores the second time.
Kafka being down delays events, never loses them, and never fails the upload.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog

from owner_api.store import RecordStore
from phr.events.base import EventData
from phr.events.envelope import Envelope
from phr.service.kafka import EventPublisher
from phr.service.metrics import OUTBOX_DEPTH
from phr.service.mongo import Document
from phr.service.runtime import ServiceRuntime

log = structlog.get_logger("owner_api.outbox")


def outbox_doc(
    runtime: ServiceRuntime, type: str, data: EventData, *, subject: str, key: str
) -> Document:
    """The outbox document of one event, ``_id = "<type>:<key>"``: a key names one change,
    so writing the same change twice (a retried request) fails on the unique ``_id``."""
    event = runtime.event(
        type,
        data,
        subject=subject,
        correlation_id=structlog.contextvars.get_contextvars().get("correlation_id"),
    )
    return {
        "_id": f"{type}:{key}",
        "event_id": str(event.id),
        "envelope": event.to_json_bytes().decode(),
        "created_at": datetime.now(UTC),
        "sent_at": None,
    }


class OutboxRelay:
    def __init__(self, store: RecordStore, publisher: EventPublisher, interval_s: float) -> None:
        self.store = store
        self.publisher = publisher
        self.interval_s = interval_s
        self._wake = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a commit: relay now rather than at the next interval."""
        self._wake.set()

    async def relay_once(self) -> int:
        sent = 0
        unsent = await self.store.unsent()
        OUTBOX_DEPTH.set(len(unsent))
        for doc in unsent:
            event = Envelope.from_json_bytes(doc["envelope"].encode())
            await self.publisher.publish(event)
            await self.store.mark_sent(doc["_id"])
            log.info("event.published", event_type=event.type, event_id=str(event.id))
            sent += 1
            OUTBOX_DEPTH.dec()
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

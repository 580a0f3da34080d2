"""What a running service holds: settings, its database, its publisher, its key, its tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import structlog
from pymongo.asynchronous.database import AsyncDatabase

from phr.crypto.signing import SigningKey
from phr.events.base import EventData
from phr.events.envelope import Envelope
from phr.service.consumer import (
    PROCESSED,
    CommitHook,
    EventConsumer,
    EventHandler,
    RejectHook,
    Verifier,
)
from phr.service.health import ReadinessCheck
from phr.service.kafka import EventPublisher, kafka_consumer
from phr.service.mongo import Document
from phr.service.outbox import OutboxRelay, signed_events
from phr.service.settings import ServiceSettings
from phr.service.tracing import current_traceparent

if TYPE_CHECKING:
    from phr.service.auth import Authenticator

log = structlog.get_logger("phr.runtime")


@dataclass
class ServiceRuntime:
    """Built by the lifespan and handed to the service's ``setup``, which builds the
    service's typed state from it (see :mod:`phr.service.state`)."""

    name: str
    settings: ServiceSettings
    db: AsyncDatabase[Document]
    publisher: EventPublisher
    signing_key: SigningKey
    stack: AsyncExitStack
    checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    #: set by :func:`phr.service.auth.enable_auth`
    authenticator: Authenticator | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def event(
        self,
        type: str,
        data: EventData,
        *,
        subject: str,
        correlation_id: UUID | str | None = None,
        causation_id: UUID | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        """A signed envelope from this service (source = service name).

        Any opaque correlation id within the envelope's bounds is kept; a malformed one
        is replaced by a new one, never an error.
        """
        return signed_events(self.name, self.signing_key)(
            type,
            data,
            subject=subject,
            correlation_id=correlation_id,
            causation_id=causation_id,
            traceparent=traceparent or current_traceparent(),
        )

    async def emit(self, type: str, data: EventData, *, subject: str, **kw: Any) -> Envelope:
        event = self.event(type, data, subject=subject, **kw)
        await self.publisher.publish(event)
        # debug: one line per event doubles the log volume of hot paths (enrolment)
        log.debug("event.published", event_type=type, event_id=str(event.id))
        return event

    async def start_outbox(self) -> OutboxRelay:
        """Relay this service's outbox to Kafka until shutdown (see :mod:`phr.service.outbox`)."""
        relay = OutboxRelay(self.db, self.publisher, self.settings.relay_interval_s)
        await relay.ensure_indexes()
        self.background("outbox-relay", relay.run)
        return relay

    def background(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``factory()`` until shutdown; restarted after a crash (logged)."""

        async def supervise() -> None:
            while True:
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - logged and restarted
                    log.error(
                        "task.crashed", task=name, error_type=type(exc).__name__, error=str(exc)
                    )
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(supervise(), name=name))

    def consume(
        self,
        topics: list[str],
        handler: EventHandler,
        *,
        group_id: str | None = None,
        verify: Verifier | None = None,
        on_reject: RejectHook | None = None,
        types: frozenset[str] | None = None,
        processed_collection: str = PROCESSED,
        after_commit: CommitHook | None = None,
    ) -> None:
        """Consume ``topics`` in the background with an idempotent handler.

        ``types`` limits the handler to those event types (others are skipped without a
        database write); ``processed_collection`` keeps this consumer's idempotency
        records apart from another consumer's in the same database; ``after_commit`` is
        told of each event applied, once its transaction has committed.
        """
        group = group_id or self.name

        async def run() -> None:
            async with kafka_consumer(self.settings.kafka, topics, group) as consumer:
                worker = EventConsumer(
                    consumer,
                    self.db,
                    handler,
                    verify=verify,
                    on_reject=on_reject,
                    types=types,
                    processed_collection=processed_collection,
                    group_id=group,
                    after_commit=after_commit,
                )
                self.consumers.append(worker)
                try:
                    await worker.run()
                finally:
                    self.consumers.remove(worker)

        self.background(f"consume:{','.join(topics)}", run)

    def consumer_ready_check(self, group_id: str | None = None) -> ReadinessCheck:
        """A readiness check: the group's consumer holds its partitions and has polled;
        its details are the consumer's lag (events not yet applied, where known)."""
        group = group_id or self.name

        async def check(_: float) -> dict[str, int | None]:
            for worker in self.consumers:
                if worker.group_id == group and worker.polls > 0 and worker.consumer.assignment():
                    return {"lag": await worker.lag()}
            raise ConnectionError("event consumer not assigned yet")

        return check

    async def stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


S = TypeVar("S")

#: a service's setup: adds its stores, checks and consumers, returns its typed state
Setup = Callable[[ServiceRuntime], Awaitable[S]]

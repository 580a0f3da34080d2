"""App factory: `SRS_NODE_ID=srs-1 uvicorn srs.main:create_app --factory`. Wiring only."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from fastapi import FastAPI

import srs
from phr.events.base import EventData
from phr.events.catalog import TOPIC_ACCESS, TOPIC_ACL, TOPIC_RECORDS, TOPIC_USERS
from phr.service.app import create_service_app
from phr.service.auth import issuer_keys
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime
from srs import api
from srs.cache import ReadCache
from srs.deps import SrsState
from srs.handlers import SRS_TYPES, EventHandlers, HandlerStats, producer_verifier
from srs.keys import load_node_secret
from srs.mongo_store import MongoStore
from srs.reencrypt import Reencryptor
from srs.settings import Settings
from srs.verification import NodeIdentity

log = structlog.get_logger("srs.main")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> SrsState:
        node = NodeIdentity(settings.node_id, load_node_secret(settings))
        store = MongoStore(runtime.db)
        await store.ensure_indexes()
        registry = Registry.load(settings.registry_file) if settings.registry_file else None
        producers = issuer_keys(registry) if registry else {}
        stats = HandlerStats()
        handlers = EventHandlers(store, node, stats=stats)
        reads = ReadCache(store, node)
        # Group = node id: every node reads every event (each keeps its own state). Each
        # applied event drops the re-encryption path's cached reads once it has committed.
        runtime.consume(
            [TOPIC_ACL, TOPIC_USERS, TOPIC_RECORDS],
            handlers,
            verify=producer_verifier(producers),
            on_reject=handlers.on_reject,
            types=SRS_TYPES,
            after_commit=reads.invalidate,
        )
        runtime.checks["events"] = runtime.consumer_ready_check()
        runtime.background("warm-access-topic", lambda: _warm_topic(runtime, TOPIC_ACCESS))

        async def emit(type: str, data: EventData, subject: str, cid: str | None) -> Any:
            return await runtime.emit(type, data, subject=subject, correlation_id=cid)

        return SrsState(
            node=node,
            signing_public=runtime.signing_key.verify_key.b64(),
            store=store,
            stats=stats,
            reencryptor=Reencryptor(
                store,
                node,
                runtime.signing_key,
                emit,
                breakglass_window_s=settings.breakglass_window_s,
                max_segments=settings.max_segments_per_request,
                reads=reads,
            ),
        )

    return create_service_app(
        # Each node signs as itself, so the ledger can tell which node decided what.
        name=settings.node_id,
        package="srs",
        settings=settings,
        routers=[api.router],
        setup=setup,
        auth=True,
        description=srs.__doc__ or "",
    )


async def _warm_topic(runtime: ServiceRuntime, topic: str) -> None:
    """Fetch the access topic's metadata once at start (the broker creates it if new), so
    the first re-encryption does not wait for that while holding its answer."""
    try:
        await asyncio.wait_for(runtime.publisher.producer.partitions_for(topic), 10)
    except Exception as exc:  # noqa: BLE001 - only a latency optimisation
        log.info("topic.warmup_skipped", topic=topic, error_type=type(exc).__name__)

"""App factory: `uvicorn ledger.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI
from phr.events.catalog import TOPICS
from phr.events.envelope import Envelope
from phr.service.app import create_service_app
from phr.service.runtime import ServiceRuntime
from pymongo.asynchronous.client_session import AsyncClientSession

import ledger
from ledger import api
from ledger.intake import EventStore
from ledger.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> None:
        store = EventStore(runtime.db)
        await store.ensure_indexes()
        runtime.state["event_store"] = store

        async def on_event(event: Envelope, session: AsyncClientSession) -> None:
            await store.record(event, session)

        runtime.consume(sorted(TOPICS), on_event, group_id=settings.group_id)

    return create_service_app(
        name="ledger",
        package="ledger",
        settings=settings,
        routers=[api.router],
        setup=setup,
        description=ledger.__doc__ or "",
    )

"""App factory: `uvicorn owner_api.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import owner_api
from owner_api import api
from owner_api.cloud import CloudStore
from owner_api.outbox import OutboxRelay
from owner_api.records import RecordService
from owner_api.settings import Settings
from owner_api.store import RecordStore
from owner_api.sweeper import UploadSweeper
from phr.service.app import create_service_app
from phr.service.auth import get_authenticator_from_state
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime


def cloud_store_url(settings: Settings) -> str:
    if settings.cloud_store_url:
        return settings.cloud_store_url
    if settings.registry_file is None:
        raise ValueError("owner-api: set CLOUD_STORE_URL or REGISTRY_FILE")
    return Registry.load(settings.registry_file).url("cloud-store")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> None:
        auth = get_authenticator_from_state(runtime.state)
        cloud = CloudStore(
            cloud_store_url(settings), auth.service_token, timeout_s=settings.cloud_store_timeout_s
        )
        runtime.stack.push_async_callback(cloud.aclose)
        store = RecordStore(runtime.db)
        await store.ensure_indexes()
        relay = OutboxRelay(store, runtime.publisher, settings.relay_interval_s)
        sweeper = UploadSweeper(
            store, cloud, ttl_s=settings.pending_ttl_s, interval_s=settings.sweep_interval_s
        )
        records = RecordService(store, cloud, runtime, settings, sweeper, on_outbox=relay.wake)
        runtime.state |= {"records": records, "store": store, "outbox": relay}
        runtime.background("outbox-relay", relay.run)
        runtime.background("upload-sweeper", sweeper.run)

    return create_service_app(
        name="owner-api",
        package="owner-api",
        settings=settings,
        routers=[api.router],
        setup=setup,
        auth=True,
        description=owner_api.__doc__ or "",
    )

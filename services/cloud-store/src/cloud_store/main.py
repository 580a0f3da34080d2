"""App factory: `uvicorn cloud_store.main:create_app --factory`. Wiring only."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

import cloud_store
from cloud_store import api, direct
from cloud_store.blobs import BlobStore
from cloud_store.deps import CloudState
from cloud_store.index import TagIndex
from cloud_store.settings import Settings
from phr.service.app import create_service_app
from phr.service.runtime import ServiceRuntime

log = structlog.get_logger("cloud_store.main")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> CloudState:
        blobs = BlobStore(settings.s3)
        runtime.stack.callback(blobs.close)
        runtime.checks["s3"] = blobs.ping
        try:
            await blobs.ensure_bucket()
        except Exception as exc:  # noqa: BLE001 - not fatal: /readyz reports S3 down
            log.warning("bucket.unavailable", error_type=type(exc).__name__)
        index = TagIndex(runtime.db)
        await index.ensure_indexes()
        return CloudState(blobs=blobs, index=index, settings=settings)

    return create_service_app(
        name="cloud-store",
        package="cloud-store",
        settings=settings,
        routers=[api.router, direct.router],
        setup=setup,
        auth=True,
        description=cloud_store.__doc__ or "",
    )

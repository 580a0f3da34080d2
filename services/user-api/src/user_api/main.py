"""App factory: `uvicorn user_api.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import user_api
from phr.crypto.signing import VerifyKey
from phr.service.app import create_service_app
from phr.service.auth import issuer_keys, runtime_authenticator
from phr.service.http import ServiceHttp
from phr.service.producers import producer_verifier
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime
from user_api import api
from user_api.access import AccessService
from user_api.deps import UserState
from user_api.events import TOPICS, TYPES, EventHandlers, producer_rules
from user_api.fanout import SrsFanout, SrsNodeRef
from user_api.mongo_store import MongoStore
from user_api.search import SearchService
from user_api.settings import Settings
from user_api.upstream import Upstream


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> UserState:
        if settings.registry_file is None:
            raise ValueError("user-api needs REGISTRY_FILE (owner-api, cloud-store, SRS nodes)")
        registry = Registry.load(settings.registry_file)
        store = MongoStore(runtime.db)
        await store.ensure_indexes()
        runtime.consume(
            TOPICS,
            EventHandlers(store),
            verify=producer_verifier(issuer_keys(registry), producer_rules(registry)),
            types=TYPES,
        )
        runtime.checks["events"] = runtime.consumer_ready_check()
        auth = runtime_authenticator(runtime)
        # One pool for every upstream: SRS nodes, owner-api and cloud-store (the
        # per-node timeout is enforced by the fan-out itself).
        http = ServiceHttp(timeout_s=settings.upstream_timeout_s)
        runtime.stack.push_async_callback(http.aclose)
        upstream = Upstream(
            http,
            owner_api=registry.url("owner-api"),
            cloud_store=registry.url("cloud-store"),
            token=auth.service_token,
        )
        nodes = [
            SrsNodeRef(name, entry.url.rstrip("/"), VerifyKey.from_b64(entry.ed25519_public))
            for name, entry in registry.srs_nodes().items()
        ]
        return UserState(
            store=store,
            search=SearchService(store, upstream, max_records=settings.max_records_per_patient),
            access=AccessService(
                runtime.emit,
                store,
                upstream,
                SrsFanout(http, nodes, timeout_s=settings.srs_timeout_s),
                threshold=settings.srs_threshold,
                access_ttl_s=settings.access_ttl_s,
            ),
        )

    return create_service_app(
        name="user-api",
        package="user-api",
        settings=settings,
        routers=[api.router],
        setup=setup,
        auth=True,
        description=user_api.__doc__ or "",
    )

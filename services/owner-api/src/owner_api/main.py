"""App factory: `uvicorn owner_api.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from collections.abc import Callable, Collection

from fastapi import FastAPI

import owner_api
from owner_api.deps import OwnerState
from owner_api.mongo_store import MongoAclStore, MongoRecordStore
from owner_api.records import api as records_api
from owner_api.records.cloud import CloudStorage, CloudStore
from owner_api.records.rebuild import GROUP, PROCESSED, RULES, TOPICS, TYPES, RecordRebuild
from owner_api.records.service import RecordService
from owner_api.records.sweeper import UploadSweeper
from owner_api.settings import Settings
from owner_api.sharing import api as sharing_api
from owner_api.sharing.delegations import DelegationService
from owner_api.sharing.directory import Directory, KgcDirectory
from owner_api.sharing.grants import GrantService
from owner_api.sharing.keys import KeyService
from owner_api.sharing.revocation import RevocationWatch
from owner_api.store import AclStore, RecordStore
from owner_api.web import install_page
from phr.service.app import create_service_app
from phr.service.auth import runtime_authenticator
from phr.service.outbox import EventMaker
from phr.service.producers import OWNER_API, producer_verifier
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime


def cloud_store_url(settings: Settings) -> str:
    if settings.cloud_store_url:
        return settings.cloud_store_url
    if settings.registry_file is None:
        raise ValueError("owner-api: set CLOUD_STORE_URL or REGISTRY_FILE")
    return Registry.load(settings.registry_file).url("cloud-store")


def kgc_url(settings: Settings) -> str:
    if settings.kgc_url:
        return settings.kgc_url
    if settings.registry_file is None:
        raise ValueError("owner-api: set KGC_URL or REGISTRY_FILE")
    return Registry.load(settings.registry_file).url("kgc")


def srs_nodes(settings: Settings) -> dict[str, str]:
    """The SRS nodes (id -> internal URL) every grant must carry a kfrag for and that
    confirm revocations (none known: neither checked nor waited for)."""
    if settings.registry_file is None:
        return {}
    return {n: e.url for n, e in Registry.load(settings.registry_file).srs_nodes().items()}


def build_state(
    settings: Settings,
    records: RecordStore,
    acl: AclStore,
    cloud: CloudStorage,
    directory: Directory,
    make_event: EventMaker,
    *,
    nodes: Collection[str] = (),
    watch: RevocationWatch | None = None,
    on_outbox: Callable[[], None] = lambda: None,
) -> OwnerState:
    """owner-api's use cases over its stores (Mongo in the service, memory in fast tests);
    ``on_outbox`` wakes the relay after a change wrote its events."""
    sweeper = UploadSweeper(
        records, cloud, ttl_s=settings.pending_ttl_s, interval_s=settings.sweep_interval_s
    )
    return OwnerState(
        records=RecordService(records, cloud, make_event, settings, sweeper, on_outbox=on_outbox),
        store=records,
        grants=GrantService(
            acl, directory, make_event, nodes=sorted(nodes), on_outbox=on_outbox, watch=watch
        ),
        keys=KeyService(acl, records, make_event, on_outbox=on_outbox),
        delegations=DelegationService(acl, directory, make_event, on_outbox=on_outbox),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> OwnerState:
        auth = runtime_authenticator(runtime)
        cloud = CloudStore(
            cloud_store_url(settings),
            auth.service_token_for("cloud-store"),
            timeout_s=settings.cloud_store_timeout_s,
        )
        runtime.stack.push_async_callback(cloud.aclose)
        store = MongoRecordStore(runtime.db)
        await store.ensure_indexes()
        relay = await runtime.start_outbox()
        directory = KgcDirectory(
            kgc_url(settings), auth.service_token_for("kgc"), timeout_s=settings.kgc_timeout_s
        )
        runtime.stack.push_async_callback(directory.aclose)
        acl = MongoAclStore(runtime.db)
        await acl.ensure_indexes()
        nodes = srs_nodes(settings)
        watch = RevocationWatch(
            nodes, auth.service_token_for("srs"), timeout_s=settings.revoke_confirm_timeout_s
        )
        runtime.stack.push_async_callback(watch.aclose)
        state = build_state(
            settings,
            store,
            acl,
            cloud,
            directory,
            runtime.event,
            nodes=nodes,
            watch=watch,
            on_outbox=relay.wake,
        )
        runtime.background("upload-sweeper", state.records.sweeper.run)
        # Records' metadata comes back from owner-api's own events (a deployment replayed
        # from a capture); on a live owner-api every event is already applied.
        runtime.consume(
            TOPICS,
            RecordRebuild(store),
            group_id=GROUP,
            verify=producer_verifier({OWNER_API: runtime.signing_key.verify_key}, RULES),
            types=TYPES,
            processed_collection=PROCESSED,
        )
        runtime.checks["record-events"] = runtime.consumer_ready_check(GROUP)
        return state

    app = create_service_app(
        name="owner-api",
        package="owner-api",
        settings=settings,
        routers=[records_api.router, sharing_api.router],
        setup=setup,
        auth=True,
        description=owner_api.__doc__ or "",
    )
    install_page(app, settings)
    return app

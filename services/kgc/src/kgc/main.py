"""App factory: `uvicorn kgc.main:create_app --factory`. Wiring only."""

from __future__ import annotations

from fastapi import FastAPI

import kgc
from kgc import api
from kgc.deps import KgcState
from kgc.groups import GroupKeys
from kgc.mongo_store import MongoKgcStore
from kgc.operator import ensure_operator
from kgc.params import build_params
from kgc.rebuild import GROUP, PROCESSED, RULES, TOPICS, TYPES, DirectoryRebuild
from kgc.settings import Settings
from kgc.store import KgcStore
from kgc.tokens import LoginLimiter, LoginService
from kgc.tracing import Tracer
from kgc.users import Announce, Directory
from phr.crypto.signing import SigningKey
from phr.identity.tokens import KGC_ISSUER, TokenSigner
from phr.service.app import create_service_app
from phr.service.auth import Authenticator, runtime_authenticator
from phr.service.outbox import EventMaker
from phr.service.producers import KGC, producer_verifier
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime

#: how long an answer waits for its events to be published (a broker that is down
#: delays the events, never the answer, past this: the relay sends them later)
DISPATCH_TIMEOUT_S = 2.0


def build_state(
    settings: Settings,
    store: KgcStore,
    make_event: EventMaker,
    auth: Authenticator,
    key: SigningKey,
    *,
    registry: Registry | None = None,
    announce: Announce | None = None,
) -> KgcState:
    """The KGC's use cases over ``store`` (Mongo in the service, memory in fast tests)."""
    directory = Directory(
        store,
        make_event,
        auth,
        key=key,
        credential_ttl_s=settings.credential_ttl_days * 86400,
        announce=announce,
    )
    groups = GroupKeys(store, key)
    directory.revocation_hooks.append(groups.rotate_for_revoked)
    return KgcState(
        params=build_params(
            key, registry, threshold=settings.threshold, token_ttl_s=settings.access_token_ttl_s
        ),
        directory=directory,
        groups=groups,
        login=LoginService(
            store,
            TokenSigner(key, KGC_ISSUER),
            LoginLimiter(settings.login_max_failures, settings.login_window_s),
            challenge_ttl_s=settings.challenge_ttl_s,
            token_ttl_s=settings.access_token_ttl_s,
        ),
        tracer=Tracer(store, directory),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def setup(runtime: ServiceRuntime) -> KgcState:
        registry = Registry.load(settings.registry_file) if settings.registry_file else None
        store = MongoKgcStore(runtime.db)
        await store.ensure_indexes()
        relay = await runtime.start_outbox()
        state = build_state(
            settings,
            store,
            runtime.event,
            runtime_authenticator(runtime),
            runtime.signing_key,
            registry=registry,
            announce=lambda events: relay.dispatch(events, DISPATCH_TIMEOUT_S),
        )
        kgc_url = registry.public_url("kgc") if registry and "kgc" in registry.services else None
        await ensure_operator(state.directory, settings.operator_path(), kgc_url)
        # Users and organisations come back from the KGC's own events (a deployment
        # replayed from a capture); on a live KGC every event is already applied.
        runtime.consume(
            TOPICS,
            DirectoryRebuild(store, state.directory),
            group_id=GROUP,
            verify=producer_verifier({KGC: runtime.signing_key.verify_key}, RULES),
            types=TYPES,
            processed_collection=PROCESSED,
        )
        runtime.checks["directory-events"] = runtime.consumer_ready_check(GROUP)
        return state

    return create_service_app(
        name="kgc",
        package="kgc",
        settings=settings,
        routers=[api.router],
        setup=setup,
        auth=True,
        description=kgc.__doc__ or "",
    )

"""The one app factory every service uses: logging, clients, health, errors, ids.

A service's ``main.create_app()`` passes its settings, routers and a ``setup``
coroutine that adds its own readiness checks and consumers to the runtime and returns
the service's typed state (:mod:`phr.service.state`).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.types import Lifespan

from phr.events.system import ServiceStarted
from phr.service.auth import enable_auth, whoami_router
from phr.service.docs import install_docs
from phr.service.health import router as health_router
from phr.service.kafka import kafka_producer
from phr.service.limits import DEFAULT_MAX_BODY_BYTES, RequestGuardMiddleware, route_limits
from phr.service.logging import configure_logging
from phr.service.metrics import observe_request
from phr.service.metrics import router as metrics_router
from phr.service.middleware import CORRELATION_ID, REQUEST_ID, RequestContextMiddleware
from phr.service.mongo import mongo_database, ping
from phr.service.openapi import install_openapi, operation_id
from phr.service.problems import install_problem_handlers
from phr.service.runtime import ServiceRuntime, Setup
from phr.service.settings import ServiceSettings
from phr.service.state import AppState
from phr.service.tracing import configure_tracing

log = structlog.get_logger("phr.app")

S = TypeVar("S")
#: tries at publishing service.started before a start fails (waits of 1, 2, 4, 8 s between)
START_ATTEMPTS = 5


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "0.0.0"


def create_service_app(
    *,
    name: str,
    package: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter] = (),
    setup: Setup[S],
    description: str = "",
    auth: bool = False,
) -> FastAPI:
    """Build a service's FastAPI app. Nothing connects until the lifespan runs.

    ``auth=True`` verifies bearer tokens (see :mod:`phr.service.auth`): it installs the
    authenticator and revocation consumer before ``setup`` runs, and the ``/v1/whoami``
    probe routes.
    """
    app_version = _version(package)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        configure_logging(settings.log, name)
        configure_tracing(name, settings.otlp_endpoint)
        key = settings.load_signing_key()
        async with AsyncExitStack() as stack:
            db = await stack.enter_async_context(mongo_database(settings.mongo, name))
            publisher = await stack.enter_async_context(kafka_producer(settings.kafka))
            runtime = ServiceRuntime(
                name=name,
                settings=settings,
                db=db,
                publisher=publisher,
                signing_key=key,
                stack=stack,
            )
            runtime.checks["mongo"] = lambda t: ping(db, t)
            runtime.checks["kafka"] = publisher.ping
            if auth:
                await enable_auth(runtime)
            service = await setup(runtime)
            instance = f"{socket.gethostname()}:{os.getpid()}"
            started = ServiceStarted(service=name, instance=instance, version=app_version)
            await _announce_start(runtime, name, started)
            log.info("service.started", version=app_version, instance=instance)
            try:
                yield AppState(
                    service=service,
                    authenticator=runtime.authenticator,
                    checks=runtime.checks,
                    readiness_timeout_s=settings.readiness_timeout_s,
                    runtime=runtime,
                ).lifespan_state()
            finally:
                await runtime.stop_tasks()
                log.info("service.stopped")

    every = [health_router, *([whoami_router] if auth else []), *routers]
    app = http_app(
        name=name, version=app_version, description=description, lifespan=lifespan, routers=every
    )
    allow_browser_origins(app, settings.cors_origins)
    return app


#: what the patient's page sends besides the CORS-safelisted headers, and what it reads
_CORS_REQUEST_HEADERS = ["authorization", "content-type", "traceparent", CORRELATION_ID, REQUEST_ID]
_CORS_RESPONSE_HEADERS = [CORRELATION_ID, REQUEST_ID, "x-content-sha256", "etag", "location"]


def allow_browser_origins(app: FastAPI, origins: Sequence[str]) -> None:
    """Let pages of ``origins`` call this service (Starlette's CORS, outermost, so a
    preflight is answered before the body guard). Calls carry a bearer token, never a
    cookie, so no credentials mode: a foreign page holds no token to send."""
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=_CORS_REQUEST_HEADERS,
            expose_headers=_CORS_RESPONSE_HEADERS,
            max_age=600,
        )


def http_app(
    *,
    name: str,
    version: str,
    description: str,
    lifespan: Lifespan[FastAPI],
    routers: Sequence[APIRouter],
) -> FastAPI:
    """The HTTP side of a service: its routes and what every route gets (ids, logs, body
    limits, media types, problems, the completed OpenAPI document). No connection here."""
    app = FastAPI(
        title=name,
        version=version,
        description=description,
        lifespan=lifespan,
        license_info={"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"},
        generate_unique_id_function=operation_id,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    routers = [*routers, metrics_router]
    for router in routers:
        app.include_router(router)
    api_routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    # Added last is outermost: ids first, so the guard's 413 and 415 carry them.
    app.add_middleware(
        RequestGuardMiddleware,
        limits=route_limits(api_routes, DEFAULT_MAX_BODY_BYTES),
        default=DEFAULT_MAX_BODY_BYTES,
    )
    app.add_middleware(RequestContextMiddleware, observe=observe_request)
    install_problem_handlers(app)
    install_openapi(app, routes=api_routes, servers=[{"url": "/", "description": name}])
    return app


async def _announce_start(runtime: ServiceRuntime, name: str, started: ServiceStarted) -> None:
    """Publish ``service.started``, retrying a broker's transient refusal a few times
    (Tansu on S3 answered UnknownError to a first produce under load) before the start
    fails for good."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            await runtime.emit("service.started", started, subject=name)
            return
        except KafkaError as exc:
            if attempt == START_ATTEMPTS:
                raise
            log.warning("service.start_event_retry", attempt=attempt, error=type(exc).__name__)
            await asyncio.sleep(0.5 * 2**attempt)

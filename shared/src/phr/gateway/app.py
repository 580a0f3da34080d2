"""The hospital gateway's FastAPI app: wiring only (``phr gateway`` serves it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from phr.gateway.capability import capability_statement, smart_configuration
from phr.gateway.identity import Cloud, open_cloud
from phr.gateway.outcome import check_format, fhir_response, install_outcome_handlers
from phr.gateway.smart import ClientRegistry, OAuthError, TokenIssuer
from phr.gateway.state import GatewayState, State

#: a token request is a few small fields and one JWT
MAX_FORM_BYTES: Final = 16 * 1024
CloudFactory = Callable[[], AbstractAsyncContextManager[Cloud | None]]


@dataclass(frozen=True)
class GatewayConfig:
    home: Path
    base_url: str  # the gateway's public root URL (the FHIR base is base_url/fhir)
    passphrase: str | None = None

    @property
    def clients_file(self) -> Path:
        return self.home / "clients.json"


def create_app(config: GatewayConfig, *, cloud: CloudFactory | None = None) -> FastAPI:
    """The gateway for ``config``; ``cloud`` replaces the PHR connection (tests)."""
    base_url = config.base_url.rstrip("/")
    clients = ClientRegistry(config.clients_file).load()

    def connect() -> AbstractAsyncContextManager[Cloud | None]:
        return open_cloud(config.home, config.passphrase)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (cloud or connect)() as connected:
            app.state.gateway = GatewayState(TokenIssuer(clients), base_url, connected)
            yield

    app = FastAPI(
        title="PHR Exchange hospital gateway",
        description="FHIR R4 REST with SMART Backend Services; all crypto inside the hospital",
        lifespan=lifespan,
    )
    install_outcome_handlers(app)
    resources: list[dict[str, Any]] = []
    batch = False
    modules = _route_modules()
    for module in modules[:-1]:
        app.include_router(module.router)
    for module in modules:
        resources.extend(module.CAPABILITY)
        batch = batch or bool(getattr(module, "BATCH", False))
    statement = capability_statement(
        base_url, software_version=version("phr"), resources=resources, batch=batch
    )

    @app.get("/fhir/metadata", tags=["fhir"], summary="The CapabilityStatement (no login)")
    async def metadata(request: Request) -> Response:
        check_format(request)
        return fhir_response(statement)

    @app.get("/.well-known/smart-configuration", tags=["smart"], include_in_schema=False)
    @app.get("/fhir/.well-known/smart-configuration", tags=["smart"])
    async def smart_config() -> JSONResponse:
        return JSONResponse(smart_configuration(base_url))

    @app.post("/auth/token", tags=["smart"], summary="client_credentials with a JWT assertion")
    async def token(request: Request, state: State) -> JSONResponse:
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        try:
            form = await _form(request)
            audiences = [f"{state.base_url}/auth/token", str(request.url.replace(query=""))]
            body = state.issuer.issue(form, audiences)
        except OAuthError as exc:
            return JSONResponse(exc.body(), exc.status, headers=headers)
        return JSONResponse(body, headers=headers)

    app.include_router(modules[-1].router)  # /fhir/{type}/{id}: after every fixed path
    return app


async def _form(request: Request) -> dict[str, str]:
    """The token request's ``application/x-www-form-urlencoded`` fields (RFC 6749 4.4)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise OAuthError("invalid_request", "the token request is too large")
    try:
        fields = parse_qs(raw.decode(), strict_parsing=False, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "not a urlencoded form") from None
    if any(len(v) > 1 for v in fields.values()):
        raise OAuthError("invalid_request", "a parameter is repeated")
    return {k: v[0] for k, v in fields.items()}


def _route_modules() -> list[Any]:
    """The FHIR route modules: each has ``router`` and ``CAPABILITY`` (its resources);
    the reads by id last (their path pattern would catch the fixed paths)."""
    from phr.gateway import audit, byid, consent, reads, search, writes

    return [reads, search, writes, consent, audit, byid]


__all__ = ["GatewayConfig", "GatewayState", "create_app"]

"""A service's real app, served in-process around a state of memory stores and fakes.

``ASGITransport`` does not run the lifespan, so ``LifespanManager`` does [httpx docs];
the app's lifespan is swapped for one that yields the given :class:`AppState`, so the
routes, middleware, auth and problem handlers are the service's own and nothing
connects to Mongo, Kafka or S3.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from phr.crypto.signing import SigningKey
from phr.identity.tokens import AUDIENCES, KGC_ISSUER, TokenSigner, TokenVerifier, audience_of
from phr.service.auth import Authenticator
from phr.service.state import AppState


def test_authenticator(
    service: str, kgc: SigningKey, own: SigningKey, others: Mapping[str, SigningKey] = {}
) -> Authenticator:
    """An authenticator trusting the KGC key ``kgc``, the service's own key and the
    ``others`` (issuer name -> key, e.g. other services' keys for their tokens)."""
    keys = {KGC_ISSUER: kgc, service: own, **others}
    verifier = TokenVerifier(
        {name: key.verify_key for name, key in keys.items()}, audience=audience_of(service)
    )
    return Authenticator(verifier, service_name=service, signing_key=own)


test_authenticator.__test__ = False  # type: ignore[attr-defined]


def user_token(kgc: SigningKey, sub: str, role: str, **kw: Any) -> str:
    """A KGC-signed access token (what ``/v1/auth/token`` would hand out), by default
    for every service (``audience=`` narrows it)."""
    kw.setdefault("audience", AUDIENCES)
    return TokenSigner(kgc, KGC_ISSUER).mint(subject=sub, role=role, ttl_s=600, **kw)


def auth_header(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def with_state(app: FastAPI, state: AppState[Any]) -> FastAPI:
    """``app`` with a lifespan that yields ``state`` and opens nothing."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield state.lifespan_state()

    app.router.lifespan_context = lifespan
    return app


@asynccontextmanager
async def asgi_client(app: FastAPI, state: AppState[Any]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to ``app`` in-process, its lifespan run around ``state``."""
    async with LifespanManager(with_state(app, state)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

"""The gateway's running state and the per-request dependencies: who calls, with what scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from phr.gateway.identity import Cloud, Identity
from phr.gateway.outcome import FhirError, check_format
from phr.gateway.smart import AccessGrant, TokenIssuer


@dataclass
class GatewayState:
    issuer: TokenIssuer
    base_url: str
    cloud: Cloud | None  # None only in tests that need no PHR services

    def require_cloud(self) -> Cloud:
        if self.cloud is None:
            raise FhirError(503, "transient", "the gateway is not connected to PHR Exchange")
        return self.cloud


def gateway_state(request: Request) -> GatewayState:
    state: Any = request.app.state.gateway
    assert isinstance(state, GatewayState)
    return state


State = Annotated[GatewayState, Depends(gateway_state)]


@dataclass(frozen=True)
class Caller:
    """An authenticated client: its grant, the identity it acts as, the services."""

    grant: AccessGrant
    identity: Identity
    cloud: Cloud
    base_url: str  # the gateway's public root URL

    def allows(self, resource: str, permission: str) -> bool:
        return self.grant.allows(resource, permission)


def _unauthorized(detail: str) -> FhirError:
    return FhirError(
        401,
        "login",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'},
    )


def require(resource: str, permission: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency: a valid access token whose scopes allow ``permission`` on ``resource``
    (401 OperationOutcome without one, 403 when its scopes do not cover it)."""

    async def dependency(request: Request, state: State) -> Caller:
        check_format(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("an access token is needed (SMART Backend Services)")
        grant = state.issuer.resolve(token.strip())
        if grant is None:
            raise _unauthorized("the access token is unknown or expired")
        if not grant.allows(resource, permission):
            raise FhirError(
                403,
                "forbidden",
                f"the token's scopes ({grant.scope_text}) do not allow "
                f"system/{resource}.{permission}",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        cloud = state.require_cloud()
        if grant.act_as is not None and grant.act_as not in cloud.identities.staff:
            raise FhirError(
                403, "forbidden", f"the client acts as {grant.act_as}, not in the gateway"
            )
        return Caller(grant, cloud.identities.get(grant.act_as), cloud, state.base_url)

    return dependency

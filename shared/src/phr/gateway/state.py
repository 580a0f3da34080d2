"""The gateway's running state and the per-request dependencies: who calls, with what scope."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from phr.gateway.identity import Cloud, Identity
from phr.gateway.outcome import FhirError, check_format
from phr.gateway.smart import AccessGrant, TokenIssuer


class Locations:
    """Where the resources served lately came from: ``(identity, Type/id)`` -> (patient,
    record or None), so a read by id opens one record instead of looking everywhere.
    A hint only: every read still goes through the identity's grants."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[str, str], tuple[str, str | None]] = OrderedDict()

    def remember(
        self, who: str, pid: str, record_id: str | None, entries: Iterable[Mapping[str, Any]]
    ) -> None:
        for entry in entries:
            resource = entry.get("resource") or entry
            if isinstance(resource.get("id"), str):
                key = (who, f"{resource.get('resourceType')}/{resource['id']}")
                self._seen[key] = (pid, record_id)
                self._seen.move_to_end(key)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)

    def get(self, who: str, local: str) -> tuple[str, str | None] | None:
        return self._seen.get((who, local))


@dataclass
class GatewayState:
    issuer: TokenIssuer
    base_url: str
    cloud: Cloud | None  # None only in tests that need no PHR services
    locations: Locations = field(default_factory=Locations)

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
    seen: Locations

    def allows(self, resource: str, permission: str) -> bool:
        return self.grant.allows(resource, permission)

    def remember(
        self, pid: str, record_id: str | None, entries: Iterable[Mapping[str, Any]]
    ) -> None:
        self.seen.remember(self.identity.user_id, pid, record_id, entries)

    def where(self, local: str) -> tuple[str, str | None] | None:
        return self.seen.get(self.identity.user_id, local)


def _unauthorized(detail: str) -> FhirError:
    return FhirError(
        401,
        "login",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'},
    )


def require(resource: str | None, permission: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency: a valid access token whose scopes allow ``permission`` on ``resource``
    (the path's ``rtype`` if None; 401 OperationOutcome without one, 403 when its scopes
    do not cover it)."""

    async def dependency(request: Request, state: State) -> Caller:
        check_format(request)
        rtype = resource or str(request.path_params.get("rtype", ""))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("an access token is needed (SMART Backend Services)")
        grant = state.issuer.resolve(token.strip())
        if grant is None:
            raise _unauthorized("the access token is unknown or expired")
        if not grant.allows(rtype, permission):
            raise FhirError(
                403,
                "forbidden",
                f"the token's scopes ({grant.scope_text}) do not allow system/{rtype}.{permission}",
                headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'},
            )
        cloud = state.require_cloud()
        if grant.act_as is not None and grant.act_as not in cloud.identities.staff:
            raise FhirError(
                403, "forbidden", f"the client acts as {grant.act_as}, not in the gateway"
            )
        ident = cloud.identities.get(grant.act_as)
        return Caller(grant, ident, cloud, state.base_url, state.locations)

    return dependency

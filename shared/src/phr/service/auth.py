"""Bearer-token checks every service uses: local verification, revocation list, role rules.

A service opts in with ``create_service_app(..., auth=True)``, which calls
:func:`enable_auth`: it loads every issuer's public key from the registry file (the KGC
for user tokens, each service for its own service tokens), loads the revoked users from
the service's own database and keeps them current from ``user.revoked`` events. No
request ever calls the KGC.

Routes declare who may call them with the annotated dependencies::

    @router.get("/v1/things")
    async def things(caller: CurrentPrincipal) -> ...        # any valid token
    async def staff_only(caller: RequireStaff) -> ...        # doctor, nurse, … admin
    async def mine(caller: Annotated[Principal, Depends(require_role("patient"))]) -> ...
    ensure_self_or_staff(caller, patient_id)                 # patients see only themselves

Outgoing calls to another service carry ``authenticator.service_token(<its name>)``: a
token for that service's audience only (see :mod:`phr.identity.tokens`); a service
accepts only tokens naming its own kind (``audience_of(name)``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pymongo.asynchronous.client_session import AsyncClientSession

from phr.api import examples as ex
from phr.crypto.signing import SigningKey, VerifyKey
from phr.events.catalog import TOPIC_REVOCATIONS, parse_data
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.events.users import UserRevoked
from phr.identity.roles import STAFF
from phr.identity.tokens import (
    KGC_ISSUER,
    LEEWAY_S,
    Principal,
    TokenExpired,
    TokenInvalid,
    TokenSigner,
    TokenVerifier,
    audience_of,
)
from phr.service.problems import Forbidden, Unauthorized
from phr.service.registry import Registry
from phr.service.runtime import ServiceRuntime
from phr.service.state import app_state

log = structlog.get_logger("phr.auth")

REVOKED_USERS: Final = "revoked_users"
#: the revocation consumer keeps its own idempotency records (see EventConsumer)
REVOCATION_PROCESSED: Final = "processed_revocations"
SERVICE_TOKEN_TTL_S: Final = 300


# ------------------------------------------------------------------ problems


class TokenMissing(Unauthorized):
    title, slug = "Bearer token required", "token-missing"


class TokenRejected(Unauthorized):
    title, slug = "Invalid token", "token-invalid"


class TokenExpiredProblem(Unauthorized):
    title, slug = "Token expired", "token-expired"


class UserRevokedProblem(Unauthorized):
    title, slug = "User revoked", "user-revoked"


class RoleForbidden(Forbidden):
    title, slug = "Role not allowed", "role-forbidden"


# ------------------------------------------------------------------ the checker


#: how many verified tokens one process remembers (all are forgotten when it is full)
VERIFIED_TOKENS_KEPT: Final = 10_000


class Authenticator:
    """Verifies tokens and remembers revoked users; one per service process."""

    def __init__(
        self,
        verifier: TokenVerifier,
        *,
        service_name: str,
        signing_key: SigningKey,
        revoked: Iterable[str] = (),
    ) -> None:
        self.verifier = verifier
        self.revoked: set[str] = set(revoked)
        self._signer = TokenSigner(signing_key, service_name)
        #: audience -> (token, expiry)
        self._service_tokens: dict[str, tuple[str, float]] = {}
        #: tokens verified already (the whole token, signature included, is the key): a
        #: client sends one token many times, and verifying costs ~0.13 ms. Expiry and
        #: revocation are still checked on every request.
        self._verified: dict[str, Principal] = {}

    def check(self, token: str) -> Principal:
        """The token's principal, or a 401 problem (malformed, signature, expiry, revoked)."""
        principal = self._verified.get(token)
        if principal is not None and time.time() > principal.expires_at + LEEWAY_S:
            del self._verified[token]
            raise TokenExpiredProblem("token expired")
        if principal is None:
            try:
                principal = self.verifier.verify(token)
            except TokenExpired as exc:
                raise TokenExpiredProblem(str(exc)) from None
            except TokenInvalid as exc:
                raise TokenRejected(str(exc)) from None
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.clear()
            self._verified[token] = principal
        if principal.sub in self.revoked and not principal.is_service:
            raise UserRevokedProblem("this user's credentials were revoked")
        return principal

    def revoke(self, user_id: str) -> None:
        self.revoked.add(user_id)

    def service_token(self, callee: str) -> str:
        """This service's own token (role ``service``) for calling ``callee`` (a service
        name: its audience is the callee's kind), reused until a minute before expiry."""
        now = time.time()
        audience = audience_of(callee)
        held = self._service_tokens.get(audience)
        if held is None or held[1] - now < 60:
            token = self._signer.mint_service(audience, ttl_s=SERVICE_TOKEN_TTL_S, now=now)
            held = self._service_tokens[audience] = (token, now + SERVICE_TOKEN_TTL_S)
        return held[0]

    def service_token_for(self, callee: str) -> Callable[[], str]:
        """A token source for one callee (what the services' HTTP clients take)."""
        return lambda: self.service_token(callee)


def issuer_keys(registry: Registry) -> dict[str, VerifyKey]:
    """Every process that may issue tokens: the KGC (users) and each service (itself)."""
    return {name: VerifyKey.from_b64(e.ed25519_public) for name, e in registry.services.items()}


# ------------------------------------------------------------------ wiring


async def enable_auth(
    runtime: ServiceRuntime, keys: Mapping[str, VerifyKey] | None = None
) -> Authenticator:
    """Install an :class:`Authenticator` and its revocation consumer on ``runtime``.

    ``keys`` (issuer name -> key) defaults to the registry file's keys; this service's
    own key is always included, so it can verify its own service tokens.
    """
    settings = runtime.settings
    if keys is None:
        registry = Registry.load(settings.registry_file) if settings.registry_file else None
        keys = issuer_keys(registry) if registry else {}
    known = {runtime.name: runtime.signing_key.verify_key, **keys}
    db = runtime.db
    revoked = [str(d["_id"]) async for d in db[REVOKED_USERS].find({}, {"_id": 1})]
    auth = Authenticator(
        TokenVerifier(known, audience=audience_of(runtime.name)),
        service_name=runtime.name,
        signing_key=runtime.signing_key,
        revoked=revoked,
    )
    runtime.authenticator = auth
    kgc_key = known.get(KGC_ISSUER)

    async def verify(event: Envelope) -> None:
        # Only the KGC may revoke a user.
        if kgc_key is None:
            raise EnvelopeInvalid("no KGC key known: cannot accept revocations")
        event.verify(kgc_key)

    async def on_revoked(event: Envelope, session: AsyncClientSession) -> None:
        data = parse_data(event)
        assert isinstance(data, UserRevoked)
        await db[REVOKED_USERS].update_one(
            {"_id": data.user_id},
            {"$setOnInsert": {"at": datetime.now(UTC), "event_id": str(event.id)}},
            upsert=True,
            session=session,
        )
        auth.revoke(data.user_id)
        log.info("user.revocation_applied", user_id=data.user_id)

    # Every process needs every revocation, so each has its own group (replicas of one
    # service differ by their Kafka client id).
    group = f"{runtime.name}.revocations.{settings.kafka.client_id}"
    runtime.consume(
        [TOPIC_REVOCATIONS],
        on_revoked,
        group_id=group,
        verify=verify,
        types=frozenset({"user.revoked"}),
        processed_collection=REVOCATION_PROCESSED,
    )
    runtime.checks["revocations"] = _consumer_ready(runtime, group)
    return auth


def _consumer_ready(runtime: ServiceRuntime, group: str) -> Callable[[float], Awaitable[None]]:
    """Ready once the revocation consumer holds its partitions and has polled them."""

    async def check(_: float) -> None:
        for worker in runtime.consumers:
            if worker.group_id == group and worker.polls > 0 and worker.consumer.assignment():
                return
        raise ConnectionError("revocation consumer not assigned yet")

    return check


# ------------------------------------------------------------------ dependencies

_bearer = HTTPBearer(auto_error=False, bearerFormat="JWT", description="Access token")


def runtime_authenticator(runtime: ServiceRuntime) -> Authenticator:
    """The authenticator ``enable_auth`` put on the runtime (for a service's setup)."""
    if runtime.authenticator is None:
        raise RuntimeError("auth not enabled: create_service_app(..., auth=True)")
    return runtime.authenticator


def get_authenticator(request: Request) -> Authenticator:
    auth = app_state(request).authenticator
    if auth is None:
        raise RuntimeError("auth not enabled: create_service_app(..., auth=True)")
    return auth


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``; 401 problem otherwise."""
    if credentials is None or not credentials.credentials:
        raise TokenMissing("send Authorization: Bearer <access token>")
    principal = get_authenticator(request).check(credentials.credentials)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(principal=principal.sub)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_role(
    *roles: str, services: bool = False
) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting only ``roles`` (and services, if ``services``)."""
    allowed = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.role in allowed or (services and principal.is_service):
            return principal
        raise RoleForbidden(f"role {principal.role!r} may not call this route")

    return dependency


RequireStaff = Annotated[Principal, Depends(require_role(*sorted(STAFF)))]
RequireService = Annotated[Principal, Depends(require_role(services=True))]
RequireAdmin = Annotated[Principal, Depends(require_role("admin"))]


def ensure_self_or_staff(principal: Principal, patient_id: str) -> None:
    """Patients (and caregivers) may act only on their own id; staff and services pass."""
    if principal.is_staff or principal.is_service:
        return
    if principal.sub != patient_id:
        raise Forbidden("a patient may only act on his own records")


async def require_patient_self(patient_id: str, principal: CurrentPrincipal) -> Principal:
    """Route dependency for paths with ``{patient_id}``: the patient himself only."""
    if principal.role != "patient" or principal.sub != patient_id:
        raise Forbidden("only the patient himself may call this route")
    return principal


PatientSelf = Annotated[Principal, Depends(require_patient_self)]


# ------------------------------------------------------------------ probe routes

whoami_router = APIRouter(prefix="/v1", tags=["auth"])


#: what ``/v1/whoami`` answers a doctor (no nulls: FastAPI drops them from examples)
_WHOAMI: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "content": {
            "application/json": {
                "example": {
                    "sub": ex.DOCTOR,
                    "role": "doctor",
                    "iss": "kgc",
                    "org": ex.ORG,
                    "dept": "cardiology",
                    "kfp": ex.FINGERPRINT,
                    "exp": 1773481313,
                }
            }
        }
    }
}


@whoami_router.get("/whoami", summary="The caller's identity, from his token", responses=_WHOAMI)
async def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    return principal.to_json()


@whoami_router.get("/whoami/staff", summary="The caller's identity; staff only", responses=_WHOAMI)
async def whoami_staff(principal: RequireStaff) -> dict[str, Any]:
    return principal.to_json()

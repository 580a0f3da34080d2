"""SMART Backend Services (SMART App Launch 2.x, "Backend Services") for the gateway.

The hospital registers each client system (``phr gateway register-client``): its
client id, its public JWK Set and the scopes it may hold. A client then asks for an
access token with ``grant_type=client_credentials`` and a client assertion: a JWT it
signs with RS384 or ES384 (``iss`` = ``sub`` = its client id, ``aud`` = this token
endpoint, ``exp`` at most five minutes ahead, a ``jti`` never used before). JOSE is
joserfc's; nothing here parses or checks a signature by hand.

Access tokens are opaque random strings kept in this process (they die with it) and
carry the granted scopes: the requested ones the registration allows. Scopes use the
SMART v2 syntax ``system/<Type|*>.<c r u d s>``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from pydantic import BaseModel, ConfigDict, Field

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS: Final = ["RS384", "ES384"]
#: what this gateway serves (and announces in its smart-configuration)
SUPPORTED_SCOPES: Final = (
    "system/Patient.rs",
    "system/Observation.rs",
    "system/Condition.rs",
    "system/MedicationRequest.rs",
    "system/Bundle.c",
    "system/Consent.rs",
    "system/AuditEvent.rs",
)
TOKEN_TTL_S: Final = 300
#: SMART: the assertion's exp is no more than five minutes in the future
MAX_ASSERTION_LIFETIME_S: Final = 300
_SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]{0,63})\.(c?r?u?d?s?)$")


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error of the token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Scope:
    resource: str  # a resource type or "*"
    permissions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        match = _SCOPE.match(text)
        if match is None or not match.group(2):
            return None
        return cls(match.group(1), frozenset(match.group(2)))

    def __str__(self) -> str:
        return f"system/{self.resource}.{''.join(p for p in 'cruds' if p in self.permissions)}"

    def allows(self, resource: str, permission: str) -> bool:
        return self.resource in (resource, "*") and permission in self.permissions


def parse_scopes(text: str) -> list[Scope]:
    """The well-formed SMART v2 system scopes of a space-separated list (others dropped)."""
    return [s for s in (Scope.parse(t) for t in text.split()) if s is not None]


def narrow(requested: Iterable[Scope], allowed: Iterable[Scope]) -> list[Scope]:
    """What of ``requested`` the registration's ``allowed`` scopes cover."""
    allowed = list(allowed)
    out = []
    for want in requested:
        perms = frozenset(
            p for p in want.permissions if any(a.allows(want.resource, p) for a in allowed)
        )
        if want.resource == "*":
            # a wildcard request gets only what a wildcard registration gives
            perms = frozenset(
                p
                for p in want.permissions
                if any(a.resource == "*" and p in a.permissions for a in allowed)
            )
        if perms:
            out.append(Scope(want.resource, perms))
    return out


# -------------------------------------------------------------------- registrations


class ClientRegistration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    client_id: str = Field(pattern=r"^[A-Za-z0-9._~-]{1,128}$")
    jwks: dict[str, Any] = Field(description="the client's public JWK Set")
    scopes: list[str] = Field(description="SMART v2 system scopes this client may hold")
    act_as: str | None = Field(
        default=None, description="a staff identity placed in the gateway (default: the system)"
    )


class ClientFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: str = "phr-gateway-clients"
    version: int = 1
    clients: list[ClientRegistration] = []


def check_jwks(jwks: dict[str, Any]) -> KeySet:
    """A public JWK Set with at least one RSA or P-384 EC key; refuses private keys."""
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWK Set has a non-empty 'keys' list")
    for key in keys:
        if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
            raise ValueError("each key is an RSA or EC JWK")
        if "d" in key:
            raise ValueError("register the PUBLIC JWK Set: a key holds its private part 'd'")
    try:
        return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a usable JWK Set: {exc}") from exc


class ClientRegistry:
    """The registrations in ``clients.json`` of the gateway's home."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, ClientRegistration]:
        if not self.path.exists():
            return {}
        doc = ClientFile.model_validate_json(self.path.read_text())
        return {c.client_id: c for c in doc.clients}

    def register(self, registration: ClientRegistration) -> None:
        check_jwks(registration.jwks)
        bad = [s for s in registration.scopes if Scope.parse(s) is None]
        if bad:
            raise ValueError(f"not SMART v2 system scopes: {', '.join(bad)}")
        clients = self.load()
        clients[registration.client_id] = registration
        doc = ClientFile(clients=sorted(clients.values(), key=lambda c: c.client_id))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(doc.model_dump_json(indent=2) + "\n")
        tmp.replace(self.path)


# -------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class AccessGrant:
    """What an access token stands for."""

    client_id: str
    scopes: tuple[Scope, ...]
    act_as: str | None
    expires_at: float

    def allows(self, resource: str, permission: str) -> bool:
        return any(s.allows(resource, permission) for s in self.scopes)

    @property
    def scope_text(self) -> str:
        return " ".join(str(s) for s in self.scopes)


class TokenIssuer:
    """Checks client assertions and issues (then resolves) opaque access tokens."""

    def __init__(self, clients: dict[str, ClientRegistration], *, ttl_s: int = TOKEN_TTL_S):
        self.clients = clients
        self.ttl_s = ttl_s
        self._keys = {cid: check_jwks(c.jwks) for cid, c in clients.items()}
        self._tokens: dict[str, AccessGrant] = {}
        self._used_jti: dict[tuple[str, str], float] = {}

    def issue(self, form: dict[str, str], audiences: Sequence[str]) -> dict[str, Any]:
        """The token response for a client_credentials request, or :class:`OAuthError`."""
        if form.get("grant_type") != "client_credentials":
            raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
        assertion = form.get("client_assertion") or ""
        registration = self._verify_assertion(assertion, audiences)
        requested = parse_scopes(form.get("scope", ""))
        if not requested:
            raise OAuthError(
                "invalid_scope", "ask for SMART v2 system scopes, e.g. system/Patient.rs"
            )
        granted = narrow(requested, parse_scopes(" ".join(registration.scopes)))
        if not granted:
            raise OAuthError("invalid_scope", "none of the requested scopes is allowed this client")
        now = time.time()
        self._expire(now)
        token = secrets.token_urlsafe(32)
        grant = AccessGrant(
            registration.client_id, tuple(granted), registration.act_as, now + self.ttl_s
        )
        self._tokens[token] = grant
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.ttl_s,
            "scope": grant.scope_text,
        }

    def _verify_assertion(self, assertion: str, audiences: Sequence[str]) -> ClientRegistration:
        invalid = OAuthError("invalid_client", "the client assertion does not verify", 401)
        try:
            # Read the issuer first (unverified) to pick the client's keys; everything is
            # verified with those keys below.
            claims = json.loads(extract_compact(assertion.encode()).payload)
        except (JoseError, ValueError, UnicodeError):
            raise invalid from None
        client_id = claims.get("iss") if isinstance(claims, dict) else None
        registration = self.clients.get(client_id) if isinstance(client_id, str) else None
        if registration is None:
            raise OAuthError("invalid_client", "unknown client id", 401)
        try:
            token = jwt.decode(assertion, self._keys[registration.client_id], algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": registration.client_id},
                sub={"essential": True, "value": registration.client_id},
                aud={"essential": True, "values": list(audiences)},
                exp={"essential": True},
                jti={"essential": True},
            ).validate(token.claims)
        except JoseError:
            raise invalid from None
        now = time.time()
        exp = float(token.claims["exp"])
        if exp > now + MAX_ASSERTION_LIFETIME_S + 30:
            raise OAuthError(
                "invalid_client", "the assertion's exp is over five minutes ahead", 401
            )
        jti = (registration.client_id, str(token.claims["jti"]))
        self._expire(now)
        if jti in self._used_jti:
            raise OAuthError("invalid_client", "this assertion (jti) was used already", 401)
        self._used_jti[jti] = exp
        return registration

    def resolve(self, token: str) -> AccessGrant | None:
        grant = self._tokens.get(token)
        if grant is None or grant.expires_at <= time.time():
            return None
        return grant

    def _expire(self, now: float) -> None:
        for tok in [t for t, g in self._tokens.items() if g.expires_at <= now]:
            del self._tokens[tok]
        for jti in [j for j, exp in self._used_jti.items() if exp <= now - 60]:
            del self._used_jti[jti]

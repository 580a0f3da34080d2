"""Access tokens: JWTs signed with Ed25519 (EdDSA), verified locally with public keys.

Two kinds, one format (claims ``iss sub aud exp iat jti role`` and, for users, ``org dept
kfp``). The header's ``kid`` names the issuer, whose key comes from the registry:

- user tokens: issued by the KGC (``iss = kid = "kgc"``) after a signed challenge;
- service tokens: minted by a service for itself with its own service key
  (``iss = kid = sub = <service name>``, ``role = "service"``). A service key signs only
  tokens about itself, so a user can never hold one.

Every token names the services it is for in ``aud`` (RFC 7519 4.1.3): one of
:data:`AUDIENCES`, the kind of service (``srs`` for every SRS node, ``ledger`` for every
replica). Each service accepts only tokens naming its own kind, so a token a service
received cannot be replayed to another one (issue 19). Clients ask the KGC for one
audience per service they call (the SDK's clients name theirs); the one token with two is
user-api's access token, which user-api forwards to the SRS nodes it fans out to
(``["user-api", "srs"]``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, get_args

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phr.api.kgc import AudienceName
from phr.crypto.signing import SigningKey, VerifyKey
from phr.identity.roles import ROLES, SERVICE_ROLE, STAFF

ALGORITHM: Final = "EdDSA"
#: every audience a token may name: the kinds of service that accept tokens
AUDIENCES: Final[tuple[str, ...]] = get_args(AudienceName)
KGC_ISSUER: Final = "kgc"
#: clock skew tolerated between the KGC and a verifying service
LEEWAY_S: Final = 5
_REQUIRED: Final = ["exp", "iat", "iss", "sub", "aud", "jti"]


_NODE_SUFFIX: Final = re.compile(r"-\d+$")


def audience_of(service_name: str) -> str:
    """The audience a process accepts: its service kind (``srs-2`` -> ``srs``)."""
    return _NODE_SUFFIX.sub("", service_name)


Audience = str | Sequence[str]


def _aud_claim(audience: Audience) -> str | list[str]:
    names = [audience] if isinstance(audience, str) else list(audience)
    if not names or any(n not in AUDIENCES for n in names):
        raise ValueError(f"audience must name services among {AUDIENCES}: {audience!r}")
    return names[0] if len(names) == 1 else names


class TokenInvalid(Exception):
    """A token is malformed, wrongly signed, expired or meant for someone else."""


class TokenExpired(TokenInvalid):
    """A well-signed token past its ``exp``."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    sub: str
    role: str
    issuer: str
    jti: str
    expires_at: int
    org: str | None = None
    dept: str | None = None
    #: SHA-256 hex of the user's Ed25519 key (users only)
    key_fp: str | None = None

    @property
    def is_service(self) -> bool:
        return self.role == SERVICE_ROLE

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def to_json(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "role": self.role,
            "iss": self.issuer,
            "org": self.org,
            "dept": self.dept,
            "kfp": self.key_fp,
            "exp": self.expires_at,
        }


class TokenSigner:
    """Mints tokens under one issuer name with one Ed25519 key."""

    def __init__(self, key: SigningKey, issuer: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(key.seed())
        self.issuer = issuer

    def mint(
        self,
        *,
        subject: str,
        role: str,
        ttl_s: int,
        audience: Audience,
        org: str | None = None,
        dept: str | None = None,
        key_fp: str | None = None,
        now: float | None = None,
    ) -> str:
        iat = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": _aud_claim(audience),
            "iat": iat,
            "exp": iat + ttl_s,
            "jti": uuid.uuid4().hex,
            "role": role,
        }
        if role != SERVICE_ROLE:
            claims |= {"org": org, "dept": dept, "kfp": key_fp}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.issuer})

    def mint_service(self, audience: str, ttl_s: int = 300, now: float | None = None) -> str:
        """A token for this service itself (``sub = iss``, role ``service``) to call
        ``audience``."""
        return self.mint(
            subject=self.issuer, role=SERVICE_ROLE, ttl_s=ttl_s, audience=audience, now=now
        )


class TokenVerifier:
    """Verifies tokens against known issuers' public keys; no network, no state.

    ``audience`` is the service kind this verifier serves: a token not naming it is
    refused."""

    def __init__(
        self,
        keys: Mapping[str, VerifyKey],
        *,
        audience: str,
        user_issuer: str = KGC_ISSUER,
        leeway_s: int = LEEWAY_S,
    ) -> None:
        self._keys = {name: Ed25519PublicKey.from_public_bytes(k.raw) for name, k in keys.items()}
        self.audience = audience
        self.user_issuer = user_issuer
        self.leeway_s = leeway_s

    def verify(self, token: str) -> Principal:
        """The token's principal; raises :class:`TokenInvalid` (or TokenExpired)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed token") from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or kid not in self._keys:
            raise TokenInvalid("token from an unknown issuer or with another algorithm")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._keys[kid],
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=kid,
                leeway=self.leeway_s,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenInvalid("token meant for another audience") from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"token rejected: {type(exc).__name__}") from exc
        return self._principal(kid, claims)

    def _principal(self, issuer: str, claims: dict[str, Any]) -> Principal:
        role, sub = claims.get("role"), claims["sub"]
        if not isinstance(role, str) or not isinstance(sub, str) or not sub:
            raise TokenInvalid("token without a role or subject")
        if role == SERVICE_ROLE:
            # A service vouches only for itself.
            if sub != issuer:
                raise TokenInvalid("a service token must name its own issuer")
        elif issuer != self.user_issuer or role not in ROLES:
            raise TokenInvalid("user tokens come from the KGC only")
        return Principal(
            sub=sub,
            role=role,
            issuer=issuer,
            jti=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            org=_opt_str(claims.get("org")),
            dept=_opt_str(claims.get("dept")),
            key_fp=_opt_str(claims.get("kfp")),
        )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None

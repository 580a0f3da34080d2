"""The client side of SMART Backend Services: a client's key pair and signed assertions.

For client systems written in Python, for tests, and for ``phr gateway client-key`` /
``phr gateway assertion`` (so a shell with curl can log in). Other languages use their
own JOSE library; nothing here is specific to this gateway.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from joserfc import jwt
from joserfc.jwk import ECKey, KeyParameters, RSAKey

from phr.gateway.smart import ALGORITHMS

Alg = Literal["ES384", "RS384"]


def new_client_key(alg: Alg = "ES384", kid: str | None = None) -> dict[str, Any]:
    """A new private JWK for ``alg`` (P-384 for ES384, RSA 3072 for RS384), with ``alg``
    and ``kid`` set."""
    params: KeyParameters = {"kid": kid or uuid.uuid4().hex[:16], "alg": alg, "use": "sig"}
    key = (
        ECKey.generate_key("P-384", params) if alg == "ES384" else RSAKey.generate_key(3072, params)
    )
    return dict(key.as_dict(private=True))


def public_jwks(*private: dict[str, Any]) -> dict[str, Any]:
    """The public JWK Set of private JWKs (what the hospital registers)."""
    out = []
    for jwk in private:
        key = ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)
        out.append(dict(key.as_dict(private=False)))
    return {"keys": out}


def sign_assertion(
    private_jwk: dict[str, Any], client_id: str, token_url: str, *, lifetime_s: int = 240
) -> str:
    """A client assertion JWT (iss = sub = client id, aud = the token endpoint, a fresh
    jti, exp within five minutes) signed with ``private_jwk``."""
    alg = private_jwk.get("alg") or ("ES384" if private_jwk["kty"] == "EC" else "RS384")
    key = (
        ECKey.import_key(private_jwk)
        if private_jwk["kty"] == "EC"
        else RSAKey.import_key(private_jwk)
    )
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT", "kid": private_jwk.get("kid")}
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": now + lifetime_s,
        "iat": now,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode({k: v for k, v in header.items() if v}, claims, key, algorithms=ALGORITHMS)

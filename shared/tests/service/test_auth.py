"""Token checks without servers: every way a token can be wrong, and the role rules."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from phr.crypto.signing import SigningKey
from phr.identity.tokens import TokenInvalid, TokenSigner, TokenVerifier, audience_of
from phr.service.auth import (
    Authenticator,
    PatientSelf,
    RequireService,
    whoami_router,
)
from phr.service.problems import PROBLEM_JSON, install_problem_handlers
from phr.service.state import AppState

KGC = SigningKey.generate()
LEDGER = SigningKey.generate()
STRANGER = SigningKey.generate()
#: the audience of the app under test
AUD = "owner-api"


def make_app(revoked: set[str] | None = None) -> FastAPI:
    auth = Authenticator(
        TokenVerifier({"kgc": KGC.verify_key, "ledger": LEDGER.verify_key}, audience=AUD),
        service_name="owner-api",
        signing_key=SigningKey.generate(),
        revoked=revoked or set(),
    )
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(whoami_router)

    @app.middleware("http")
    async def state(request: Any, call_next: Any) -> Any:
        request.state.app_state = AppState(service=None, authenticator=auth)
        return await call_next(request)

    @app.get("/v1/patients/{patient_id}")
    async def own(patient_id: str, who: PatientSelf) -> dict[str, str]:
        return {"sub": who.sub}

    @app.get("/v1/internal")
    async def internal(who: RequireService) -> dict[str, str]:
        return {"sub": who.sub}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(revoked={"u_revoked"}))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def user_token(
    sub: str = "u_alice",
    role: str = "doctor",
    *,
    key: SigningKey = KGC,
    issuer: str = "kgc",
    audience: str | tuple[str, ...] = AUD,
    ttl_s: int = 3600,  # minted at import: a slow collection must not expire them
    now: float | None = None,
) -> str:
    return TokenSigner(key, issuer).mint(
        subject=sub,
        role=role,
        ttl_s=ttl_s,
        audience=audience,
        org="org_1",
        dept="cardio",
        key_fp="ab",
        now=now,
    )


BAD_TOKENS: dict[str, tuple[str | None, int, str]] = {
    "none": (None, 401, "token-missing"),
    "garbage": ("not.a.jwt", 401, "token-invalid"),
    "expired": (user_token(now=time.time() - 7200), 401, "token-expired"),
    "wrong-key": (user_token(key=STRANGER), 401, "token-invalid"),
    "another-services-audience": (user_token(audience="user-api"), 401, "token-invalid"),
    "other-services-audiences": (user_token(audience=("user-api", "srs")), 401, "token-invalid"),
    "unknown-issuer": (user_token(key=STRANGER, issuer="mallory"), 401, "token-invalid"),
    "revoked-user": (user_token(sub="u_revoked"), 401, "user-revoked"),
    "user-token-from-a-service-key": (
        user_token(key=LEDGER, issuer="ledger"),
        401,
        "token-invalid",
    ),
    "service-token-for-someone-else": (
        user_token(sub="kgc", role="service", key=LEDGER, issuer="ledger"),
        401,
        "token-invalid",
    ),
    "patient-on-staff-route": (user_token(role="patient"), 403, "role-forbidden"),
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
async def test_bad_tokens_are_refused_with_problem_json(
    client: httpx.AsyncClient, kind: str
) -> None:
    token, status, slug = BAD_TOKENS[kind]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await client.get("/v1/whoami/staff", headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["type"].endswith("/" + slug)
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"


async def test_a_good_token_names_the_caller(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/whoami/staff", headers={"Authorization": f"Bearer {user_token()}"})
    assert r.status_code == 200
    assert r.json() | {"exp": 0} == {
        "sub": "u_alice",
        "role": "doctor",
        "iss": "kgc",
        "org": "org_1",
        "dept": "cardio",
        "kfp": "ab",
        "exp": 0,
    }


async def test_service_tokens_verify_against_the_registry_key(client: httpx.AsyncClient) -> None:
    token = TokenSigner(LEDGER, "ledger").mint_service(AUD)
    r = await client.get("/v1/internal", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == {"sub": "ledger"}
    # A user, however senior, is not a service.
    r = await client.get(
        "/v1/internal", headers={"Authorization": f"Bearer {user_token(role='admin')}"}
    )
    assert r.status_code == 403


async def test_patients_reach_only_their_own_records(client: httpx.AsyncClient) -> None:
    mine = {"Authorization": f"Bearer {user_token('u_pat', 'patient')}"}
    assert (await client.get("/v1/patients/u_pat", headers=mine)).status_code == 200
    assert (await client.get("/v1/patients/u_other", headers=mine)).status_code == 403


def test_service_token_is_cached_and_verifies() -> None:
    key = SigningKey.generate()
    auth = Authenticator(
        TokenVerifier({"srs-1": key.verify_key}, audience="srs"),
        service_name="srs-1",
        signing_key=key,
    )
    token = auth.service_token("srs-1")
    assert auth.service_token("srs-3") == token
    principal = auth.check(token)
    assert (principal.sub, principal.role, principal.is_service) == ("srs-1", "service", True)


def test_revocation_applies_to_live_tokens() -> None:
    auth = Authenticator(
        TokenVerifier({"kgc": KGC.verify_key}, audience=AUD),
        service_name="x",
        signing_key=SigningKey.generate(),
    )
    token = user_token("u_bob", "nurse")
    assert auth.check(token).sub == "u_bob"
    auth.revoke("u_bob")
    with pytest.raises(Exception, match="revoked"):
        auth.check(token)


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier({"kgc": KGC.verify_key}, audience=AUD)
    calls: list[str] = []
    real = verifier.verify
    monkeypatch.setattr(verifier, "verify", lambda t: calls.append(t) or real(t))
    auth = Authenticator(verifier, service_name="x", signing_key=SigningKey.generate())
    now = time.time()
    token = user_token("u_bob", "nurse", ttl_s=60, now=now)
    for _ in range(3):
        assert auth.check(token).sub == "u_bob"
    assert len(calls) == 1  # verified once
    head, payload, signature = token.split(".")
    flipped = "B" if signature[0] == "A" else "A"  # the first char: every bit of it counts
    forged = f"{head}.{payload}.{flipped}{signature[1:]}"
    with pytest.raises(Exception, match="rejected|invalid|Signature"):
        auth.check(forged)  # another string: verified, and refused
    monkeypatch.setattr(time, "time", lambda: now + 60 + 10)  # past expiry and leeway
    with pytest.raises(Exception, match="expired"):
        auth.check(token)
    assert len(calls) == 2  # the forged one; the expired one was known


async def test_a_token_naming_this_service_among_others_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    token = user_token(audience=("user-api", AUD))
    r = await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text


def test_audiences_are_service_kinds_and_nothing_else() -> None:
    assert [audience_of(n) for n in ("srs-1", "srs-12", "ledger-2", "owner-api", "kgc")] == [
        "srs",
        "srs",
        "ledger",
        "owner-api",
        "kgc",
    ]
    signer = TokenSigner(KGC, "kgc")
    for bad in ("phr", "owner-api-1", (), ("srs", "elsewhere")):
        with pytest.raises(ValueError, match="audience"):
            signer.mint(subject="u", role="doctor", ttl_s=60, audience=bad)


def test_a_service_token_names_its_callee() -> None:
    auth = Authenticator(
        TokenVerifier({"ledger": LEDGER.verify_key}, audience="ledger"),
        service_name="owner-api",
        signing_key=LEDGER,
    )
    to_srs = auth.service_token("srs-2")
    assert auth.service_token("srs-1") == to_srs  # one audience for every node
    assert auth.service_token_for("cloud-store")() != to_srs
    srs = TokenVerifier({"owner-api": LEDGER.verify_key}, audience="srs")
    assert srs.verify(to_srs).sub == "owner-api"
    with pytest.raises(TokenInvalid, match="audience"):
        TokenVerifier({"owner-api": LEDGER.verify_key}, audience="kgc").verify(to_srs)

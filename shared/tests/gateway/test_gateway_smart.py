"""The gateway's face without the PHR services: metadata, SMART discovery and login, scopes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import Depends
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from joserfc import jwt
from joserfc.jwk import ECKey

from phr.gateway.app import GatewayConfig, create_app
from phr.gateway.assertion import new_client_key, public_jwks, sign_assertion
from phr.gateway.identity import Cloud
from phr.gateway.smart import ASSERTION_TYPE, ClientRegistration, ClientRegistry
from phr.gateway.state import Caller, require
from tests.support.gateway import assert_outcome

BASE = "http://gw.test"
TOKEN_URL = f"{BASE}/auth/token"


@asynccontextmanager
async def no_cloud() -> AsyncIterator[Cloud | None]:
    yield None


@pytest.fixture
def keys() -> dict[str, dict[str, Any]]:
    return {"es": new_client_key("ES384"), "rs": new_client_key("RS384")}


@pytest.fixture
async def client(
    tmp_path: Path, keys: dict[str, dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    registry = ClientRegistry(tmp_path / "clients.json")
    registry.register(
        ClientRegistration(
            client_id="lis",
            jwks=public_jwks(keys["es"], keys["rs"]),
            scopes=["system/Patient.rs", "system/Observation.rs"],
        )
    )
    app = create_app(GatewayConfig(home=tmp_path, base_url=BASE), cloud=no_cloud)

    @app.get("/fhir/Observation/probe")
    async def probe(
        caller: Annotated[Caller, Depends(require("Observation", "r"))],
    ) -> dict[str, str]:
        return {"client": caller.grant.client_id}  # pragma: no cover - needs a cloud

    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            yield http


async def get_token(
    http: httpx.AsyncClient, assertion: str, scope: str = "system/Patient.rs"
) -> httpx.Response:
    return await http.post(
        "/auth/token",
        data={
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        },
    )


async def test_metadata_is_an_r4_capability_statement(client: httpx.AsyncClient) -> None:
    resp = await client.get("/fhir/metadata")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/fhir+json")
    doc = resp.json()
    CapabilityStatement.model_validate(doc)
    assert doc["fhirVersion"] == "4.0.1"
    security = doc["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert security["extension"][0]["extension"][0]["valueUri"] == TOKEN_URL
    assert (await client.get("/fhir/metadata", params={"_format": "json"})).status_code == 200
    assert_outcome(
        await client.get("/fhir/metadata", params={"_format": "xml"}), 406, "not-supported"
    )


async def test_smart_configuration(client: httpx.AsyncClient) -> None:
    for path in ("/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"):
        doc = (await client.get(path)).json()
        assert doc["token_endpoint"] == TOKEN_URL
        assert doc["grant_types_supported"] == ["client_credentials"]
        assert set(doc["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
        assert "client-confidential-asymmetric" in doc["capabilities"]
        assert "system/Patient.rs" in doc["scopes_supported"]


@pytest.mark.parametrize("which", ["es", "rs"])
async def test_a_registered_client_gets_a_token_with_es384_or_rs384(
    client: httpx.AsyncClient, keys: dict[str, dict[str, Any]], which: str
) -> None:
    resp = await get_token(
        client,
        sign_assertion(keys[which], "lis", TOKEN_URL),
        "system/Patient.rs system/Observation.rs system/Consent.rs",
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    # Consent.rs is not in the registration: it is left out, the rest is granted.
    assert body["scope"].split() == ["system/Patient.rs", "system/Observation.rs"]
    assert resp.headers["cache-control"] == "no-store"


async def test_assertions_that_must_not_log_in(
    client: httpx.AsyncClient, keys: dict[str, dict[str, Any]]
) -> None:
    good = sign_assertion(keys["es"], "lis", TOKEN_URL)
    assert (await get_token(client, good)).status_code == 200
    replayed = await get_token(client, good)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")

    stranger = new_client_key("ES384", kid=keys["es"]["kid"])
    forged = await get_token(client, sign_assertion(stranger, "lis", TOKEN_URL))
    assert (forged.status_code, forged.json()["error"]) == (401, "invalid_client")

    other_aud = await get_token(client, sign_assertion(keys["es"], "lis", "http://evil/token"))
    assert other_aud.status_code == 401

    unknown = await get_token(client, sign_assertion(keys["es"], "pharmacy", TOKEN_URL))
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")

    now = int(time.time())
    expired = jwt.encode(
        {"alg": "ES384", "kid": keys["es"]["kid"]},
        {"iss": "lis", "sub": "lis", "aud": TOKEN_URL, "exp": now - 5, "jti": uuid.uuid4().hex},
        ECKey.import_key(keys["es"]),
        algorithms=["ES384"],
    )
    assert (await get_token(client, expired)).status_code == 401
    too_long = jwt.encode(
        {"alg": "ES384", "kid": keys["es"]["kid"]},
        {"iss": "lis", "sub": "lis", "aud": TOKEN_URL, "exp": now + 3600, "jti": uuid.uuid4().hex},
        ECKey.import_key(keys["es"]),
        algorithms=["ES384"],
    )
    assert (await get_token(client, too_long)).status_code == 401
    es256 = jwt.encode(
        {"alg": "ES256"},
        {"iss": "lis", "sub": "lis", "aud": TOKEN_URL, "exp": now + 60, "jti": uuid.uuid4().hex},
        ECKey.generate_key("P-256"),
        algorithms=["ES256"],
    )
    assert (await get_token(client, es256)).status_code == 401
    assert (await get_token(client, "not-a-jwt")).status_code == 401


async def test_bad_token_requests_get_oauth_errors(
    client: httpx.AsyncClient, keys: dict[str, dict[str, Any]]
) -> None:
    scope = await get_token(
        client, sign_assertion(keys["es"], "lis", TOKEN_URL), "system/Consent.rs"
    )
    assert (scope.status_code, scope.json()["error"]) == (400, "invalid_scope")
    grant = await client.post(
        "/auth/token", data={"grant_type": "password", "client_assertion_type": ASSERTION_TYPE}
    )
    assert grant.json()["error"] == "unsupported_grant_type"
    as_json = await client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert as_json.json()["error"] == "invalid_request"


async def test_fhir_routes_refuse_without_a_token_or_the_scope(
    client: httpx.AsyncClient, keys: dict[str, dict[str, Any]]
) -> None:
    missing = await client.get("/fhir/Observation/probe")
    assert_outcome(missing, 401, "login")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert_outcome(
        await client.get("/fhir/Observation/probe", headers={"Authorization": "Bearer nope"}),
        401,
        "login",
    )
    token = (
        await get_token(client, sign_assertion(keys["es"], "lis", TOKEN_URL), "system/Patient.rs")
    ).json()["access_token"]
    refused = await client.get(
        "/fhir/Observation/probe", headers={"Authorization": f"Bearer {token}"}
    )
    assert_outcome(refused, 403, "forbidden")
    assert "insufficient_scope" in refused.headers["www-authenticate"]
    assert_outcome(await client.get("/fhir/Nothing"), 404, "not-found")
    for path in (
        "/fhir/Observation?patient=u_1&code=http://loinc.org|4548-4",
        "/fhir/Condition?patient=u_1",
        "/fhir/MedicationRequest?patient=u_1",
        "/fhir/Consent?patient=u_1",
        "/fhir/AuditEvent?patient=u_1",
    ):
        assert_outcome(await client.get(path), 401, "login")
        scoped = await client.get(path, headers={"Authorization": f"Bearer {token}"})
        assert_outcome(scoped, 403, "forbidden")
    post = await client.post("/fhir", json={}, headers={"Authorization": f"Bearer {token}"})
    assert_outcome(post, 403, "forbidden")


def test_registration_refuses_private_keys_and_bad_scopes(tmp_path: Path) -> None:
    registry = ClientRegistry(tmp_path / "clients.json")
    key = new_client_key("ES384")
    with pytest.raises(ValueError, match="PUBLIC"):
        registry.register(ClientRegistration(client_id="x", jwks={"keys": [key]}, scopes=[]))
    with pytest.raises(ValueError, match="scopes"):
        registry.register(
            ClientRegistration(client_id="x", jwks=public_jwks(key), scopes=["patient/*.read"])
        )
    assert registry.load() == {}

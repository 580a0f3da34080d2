"""Enrol users and get access tokens from the running KGC, the way a client does.

    kgc = KgcClient(http, stack_kgc_url(stack))
    operator = load_operator(stack)                    # the admin the KGC created at start
    admin_token = await kgc.login(operator)
    org = await kgc.create_org(admin_token, "St Elsewhere", "hospital")
    alice = await kgc.enrol("patient")                 # active at once
    bob = await kgc.enrol("doctor", org=org)           # pending
    await kgc.approve(admin_token, bob)
    token = await kgc.login(bob)

The ``kgc_session`` fixture in tests/conftest.py bundles the client and operator token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from phr.crypto.export import import_secret_keys
from phr.crypto.keys import UserKeys
from phr.crypto.signing import b64u_encode
from phr.identity.proofs import login_message
from phr.identity.tokens import AUDIENCES, Audience
from phr.sdk.identity import enrolment_request
from tests.support.stack import stack_module

#: every service: what a test's token is for unless it asks for less
ALL_SERVICES: tuple[str, ...] = AUDIENCES


@dataclass
class TestUser:
    """An enrolled user and his secret keys (held by the test, as by a real client)."""

    __test__ = False

    user_id: str
    role: str
    keys: UserKeys
    org: str | None = None
    dept: str | None = None
    status: str = "active"


def service_url(stack: Any, name: str) -> str:
    spec = next(s for s in stack_module().SERVICES if s.name == name)
    return str(stack.service_url(spec))


def operator_file(stack: Any) -> Path:
    return Path(stack.base) / "operator" / "operator.json"


def load_operator(stack: Any) -> TestUser:
    doc = json.loads(operator_file(stack).read_text())
    material = import_secret_keys(doc)
    assert material.user_id is not None
    return TestUser(user_id=material.user_id, role="admin", keys=material.user)


def enrol_body(
    keys: UserKeys, role: str, org: str | None = None, dept: str | None = None
) -> dict[str, Any]:
    """A signed enrolment request for ``keys`` (proof of possession included)."""
    return enrolment_request(keys, role, org, dept)


class KgcClient:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url.rstrip("/")

    async def enrol(self, role: str, org: str | None = None, dept: str | None = None) -> TestUser:
        keys = UserKeys.generate()
        r = await self.http.post(f"{self.url}/v1/users", json=enrol_body(keys, role, org, dept))
        assert r.status_code == 201, r.text
        body = r.json()
        return TestUser(body["user_id"], role, keys, org, dept, body["status"])

    async def challenge(self, user_id: str) -> httpx.Response:
        return await self.http.post(f"{self.url}/v1/auth/challenge", json={"user_id": user_id})

    async def answer(
        self,
        user: TestUser,
        nonce: str,
        *,
        keys: UserKeys | None = None,
        audience: Audience | None = ALL_SERVICES,
    ) -> httpx.Response:
        """The token request for a signed challenge (``audience=None``: none named)."""
        signer = (keys or user.keys).signing
        sig = signer.sign(login_message(user_id=user.user_id, nonce=nonce))
        body: dict[str, Any] = {
            "user_id": user.user_id,
            "nonce": nonce,
            "signature": b64u_encode(sig),
        }
        if audience is not None:
            body["audience"] = audience if isinstance(audience, str) else list(audience)
        return await self.http.post(f"{self.url}/v1/auth/token", json=body)

    async def login(self, user: TestUser, audience: Audience = ALL_SERVICES) -> str:
        """A token for ``audience``; by default for every service (a test convenience:
        the SDK, CLI and gateway ask for one service's audience per token, and
        tests/e2e/test_kgc_tokens.py shows each service refusing the others')."""
        r = await self.challenge(user.user_id)
        assert r.status_code == 200, r.text
        r = await self.answer(user, r.json()["nonce"], audience=audience)
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    async def create_org(self, admin_token: str, name: str, kind: str) -> str:
        r = await self.http.post(
            f"{self.url}/v1/orgs", json={"name": name, "kind": kind}, headers=bearer(admin_token)
        )
        assert r.status_code == 201, r.text
        org_id: str = r.json()["organisation_id"]
        return org_id

    async def approve(self, admin_token: str, user: TestUser) -> None:
        r = await self.http.post(
            f"{self.url}/v1/users/{user.user_id}/approve", headers=bearer(admin_token)
        )
        assert r.status_code == 200, r.text
        user.status = "active"

    async def revoke(self, admin_token: str, user_id: str, reason: str = "test") -> httpx.Response:
        return await self.http.post(
            f"{self.url}/v1/users/{user_id}/revoke",
            json={"reason": reason},
            headers=bearer(admin_token),
        )

    async def staff(
        self, admin_token: str, role: str, org: str, dept: str | None = None
    ) -> TestUser:
        """Enrol and approve a staff member in one go."""
        user = await self.enrol(role, org=org, dept=dept)
        await self.approve(admin_token, user)
        return user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

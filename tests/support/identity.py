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

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import httpx

from phr.crypto.keys import UserKeys
from phr.crypto.signing import b64u_encode
from phr.identity.proofs import login_message
from phr.identity.tokens import AUDIENCES, Audience
from phr.scenario import Endpoints, Person, Scenario, enrol, operator_from_file
from phr.sdk.identity import IdentityClient, enrolment_request
from tests.support.stack import stack_module

#: every service: what a test's token is for unless it asks for less
ALL_SERVICES: tuple[str, ...] = AUDIENCES


@dataclass
class TestUser(Person):
    """An enrolled user and his secret keys (held by the test, as by a real client)."""

    __test__ = False

    @classmethod
    def of(cls, person: Person) -> TestUser:
        return cls(**{f.name: getattr(person, f.name) for f in fields(Person)})


def service_url(stack: Any, name: str) -> str:
    spec = next(s for s in stack_module().SERVICES if s.name == name)
    return str(stack.service_url(spec))


def operator_file(stack: Any) -> Path:
    return Path(stack.base) / "operator" / "operator.json"


def load_operator(stack: Any) -> TestUser:
    return TestUser.of(operator_from_file(operator_file(stack)))


def endpoints(stack: Any) -> Endpoints:
    return Endpoints(
        kgc=service_url(stack, "kgc"),
        owner_api=service_url(stack, "owner-api"),
        user_api=service_url(stack, "user-api"),
    )


def stack_scenario(stack: Any, http: httpx.AsyncClient | None = None) -> Scenario:
    """phr.scenario on the test stack, as its operator."""
    return Scenario.from_operator_file(endpoints(stack), operator_file(stack), http=http)


def enrol_body(
    keys: UserKeys, role: str, org: str | None = None, dept: str | None = None
) -> dict[str, Any]:
    """A signed enrolment request for ``keys`` (proof of possession included)."""
    return enrolment_request(keys, role, org, dept)


class KgcClient:
    """The KGC for tests: the SDK's :class:`IdentityClient` for what succeeds, raw
    requests (:meth:`challenge`, :meth:`answer`, :meth:`revoke`) for what tests refuse."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.sdk = IdentityClient(self.url, http=http)

    async def enrol(self, role: str, org: str | None = None, dept: str | None = None) -> TestUser:
        return TestUser.of(await enrol(self.sdk, role, org, dept))

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
        return await self.sdk.login(user.user_id, user.keys.signing, audience=audience)

    async def create_org(self, admin_token: str, name: str, kind: str) -> str:
        return str((await self.sdk.create_org(admin_token, name, kind))["organisation_id"])

    async def approve(self, admin_token: str, user: TestUser) -> None:
        await self.sdk.approve(admin_token, user.user_id)
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

"""The KGC from a client's side: pinned system parameters, enrolment, login, directory.

kgc = IdentityClient("http://127.0.0.1:8001")
params, pin = await kgc.params(pin=None)          # first use pins the KGC key
user_id, status = await kgc.enrol(keys, role="patient")
token = await kgc.login(user_id, keys.signing, audience="owner-api")   # one service's
tokens = Login(kgc_url, user_id, keys.signing)     # what the SDK's clients take: one token
                                               # per audience, refreshed before expiry
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import httpx

from phr.crypto.keys import UserKeys
from phr.crypto.signing import SigningKey, b64u_encode
from phr.identity.params import ParamsPin, SystemParams, verify_params
from phr.identity.proofs import enrolment_message, login_message
from phr.identity.tokens import Audience
from phr.sdk.errors import Unreachable, raise_for_problem
from phr.sdk.transport import new_client


def enrolment_request(
    keys: UserKeys,
    role: str,
    org: str | None = None,
    dept: str | None = None,
    *,
    display_name: str | None = None,
) -> dict[str, Any]:
    """A signed enrolment body: the attributes bound to both public keys (proof of possession).

    ``display_name`` (optional, outside the proof, as the page sends it) is the name the
    directory shows others, e.g. a doctor's in a patient's list of who may read what."""
    pub = keys.public()
    body: dict[str, Any] = {
        "role": role,
        "organisation_id": org,
        "department": dept,
        "ed25519_public": pub.verify.b64(),
        "umbral_public": pub.pre.b64(),
    }
    body["proof"] = b64u_encode(keys.signing.sign(enrolment_message(**body)))
    if display_name is not None:
        body["display_name"] = display_name
    return body


class IdentityClient:
    """Calls the KGC. Methods that need a caller take his bearer token."""

    def __init__(self, base_url: str, *, http: httpx.AsyncClient | None = None) -> None:
        self.url = base_url.rstrip("/")
        self._own_http = http is None
        self.http = http or new_client(timeout_s=30.0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        ok: tuple[int, ...] = (200,),
        **kw: Any,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            resp = await self.http.request(method, self.url + path, headers=headers, **kw)
        except httpx.TransportError as exc:
            raise Unreachable(f"cannot reach the KGC at {self.url} ({type(exc).__name__})") from exc
        raise_for_problem(resp, ok)
        return resp.json() if resp.content else None

    async def params(self, pin: ParamsPin | None) -> tuple[SystemParams, ParamsPin]:
        """Fetch and verify the signed parameters (pinning the KGC key on first use)."""
        doc = await self._call("GET", "/v1/params")
        return verify_params(doc, pin)

    async def enrol(
        self,
        keys: UserKeys,
        role: str,
        org: str | None = None,
        dept: str | None = None,
        *,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        request = enrolment_request(keys, role, org, dept, display_name=display_name)
        body: dict[str, Any] = await self._call("POST", "/v1/users", json=request, ok=(201,))
        return body

    async def login(self, user_id: str, signing: SigningKey, *, audience: Audience) -> str:
        """A token for ``audience`` (a service kind, or a list): refused by every other."""
        return (await self._login(user_id, signing, audience))[0]

    async def _login(
        self, user_id: str, signing: SigningKey, audience: Audience
    ) -> tuple[str, int]:
        challenge = await self._call("POST", "/v1/auth/challenge", json={"user_id": user_id})
        sig = signing.sign(login_message(user_id=user_id, nonce=challenge["nonce"]))
        aud = audience if isinstance(audience, str) else list(audience)
        answer = await self._call(
            "POST",
            "/v1/auth/token",
            json={
                "user_id": user_id,
                "nonce": challenge["nonce"],
                "signature": b64u_encode(sig),
                "audience": aud,
            },
        )
        return str(answer["access_token"]), int(answer["expires_in"])

    async def user(self, token: str, user_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self._call("GET", f"/v1/users/{user_id}", token=token)
        return doc

    async def find_users(self, token: str, selector: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call(
            "GET", "/v1/users", token=token, params={"selector": selector}
        )
        return found

    async def create_org(self, token: str, name: str, kind: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self._call(
            "POST", "/v1/orgs", token=token, json={"name": name, "kind": kind}, ok=(201,)
        )
        return doc

    async def approve(self, token: str, user_id: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self._call("POST", f"/v1/users/{user_id}/approve", token=token)
        return doc

    async def revoke(self, token: str, user_id: str, reason: str) -> dict[str, Any]:
        doc: dict[str, Any] = await self._call(
            "POST", f"/v1/users/{user_id}/revoke", token=token, json={"reason": reason}
        )
        return doc

    async def trace(self, token: str, leaked: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = await self._call("POST", "/v1/trace", token=token, json=leaked)
        return doc


#: a token is renewed this long before it expires
RENEW_BEFORE_S = 30


class Login:
    """One user's tokens, one per audience (:class:`phr.sdk.base.Tokens`): each is
    obtained by a signed challenge on first use and again shortly before it expires."""

    def __init__(self, kgc_url: str, user_id: str, signing: SigningKey) -> None:
        self.kgc_url = kgc_url
        self.user_id = user_id
        self._signing = signing
        self._held: dict[tuple[str, ...], tuple[str, float]] = {}

    async def for_audience(self, audience: Audience) -> str:
        key = (audience,) if isinstance(audience, str) else tuple(audience)
        held = self._held.get(key)
        if held is None or held[1] - time.monotonic() < RENEW_BEFORE_S:
            async with IdentityClient(self.kgc_url) as kgc:
                token, ttl = await kgc._login(self.user_id, self._signing, audience)
            held = self._held[key] = (token, time.monotonic() + ttl)
        return held[0]

"""Challenge/response login and access-token issuance, with a failed-login limiter.

1. ``challenge(user_id)``: a random single-use nonce, stored with a short expiry.
2. ``login(user_id, nonce, signature)``: the nonce is taken (deleted) atomically, the
   signature over ``login_message`` is checked with the user's enrolled Ed25519 key,
   and an EdDSA JWT (aud ``phr``, iss ``kgc``) is minted with the KGC's service key.

Failures of one user id are counted in a sliding window; past the limit both steps
answer 429 with Retry-After. The counter lives in this process (one KGC instance);
several instances would keep it in Mongo instead.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import structlog

from kgc.errors import LoginFailed, LoginRateLimited, NotActive
from kgc.store import KgcStore
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode
from phr.identity.proofs import login_message
from phr.identity.tokens import TokenSigner

log = structlog.get_logger("kgc.tokens")


class LoginLimiter:
    """At most ``max_failures`` failed logins per user id within ``window_s`` seconds."""

    def __init__(self, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}

    def check(self, user_id: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        times = self._failures.get(user_id)
        if not times:
            return
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[user_id]
            return
        if len(times) >= self.max_failures:
            retry = int(times[0] + self.window_s - now) + 1
            raise LoginRateLimited(
                "too many failed logins for this user; try again later", retry_after_s=retry
            )

    def failed(self, user_id: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._failures.setdefault(user_id, deque()).append(now)
        # Bound memory under a flood of made-up ids: forget the oldest entries.
        if len(self._failures) > 100_000:
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, user_id: str) -> None:
        self._failures.pop(user_id, None)


class LoginService:
    def __init__(
        self,
        store: KgcStore,
        signer: TokenSigner,
        limiter: LoginLimiter,
        *,
        challenge_ttl_s: int,
        token_ttl_s: int,
    ) -> None:
        self.store = store
        self.signer = signer
        self.limiter = limiter
        self.challenge_ttl_s = challenge_ttl_s
        self.token_ttl_s = token_ttl_s

    async def challenge(self, user_id: str) -> str:
        self.limiter.check(user_id)
        # Unknown ids get a nonce too, so the answer does not reveal who is enrolled.
        nonce = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=self.challenge_ttl_s)
        await self.store.put_challenge(nonce, user_id, expires)
        return nonce

    async def login(self, user_id: str, nonce: str, signature: str) -> str:
        self.limiter.check(user_id)
        taken = await self.store.take_challenge(nonce, user_id)
        user = await self.store.get_user(user_id) if taken is not None else None
        if taken is None or user is None or not _signed(user, user_id, nonce, signature):
            self.limiter.failed(user_id)
            log.info("login.failed", user_id=user_id, challenge_found=taken is not None)
            raise LoginFailed("unknown, expired or used challenge, or a wrong signature")
        if user["status"] != "active":
            raise NotActive(f"user is {user['status']}")
        self.limiter.succeeded(user_id)
        token = self.signer.mint(
            subject=user_id,
            role=user["role"],
            ttl_s=self.token_ttl_s,
            org=user.get("organisation_id"),
            dept=user.get("department"),
            key_fp=user["ed25519_fp"],
        )
        log.info("login.succeeded", user_id=user_id, role=user["role"])
        return token


def _signed(user: dict[str, object], user_id: str, nonce: str, signature: str) -> bool:
    try:
        key = VerifyKey.from_b64(str(user["ed25519_public"]))
        key.verify(b64u_decode(signature), login_message(user_id=user_id, nonce=nonce))
    except (SignatureInvalid, ValueError):
        return False
    return True

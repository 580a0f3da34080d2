"""Challenge/response login and access-token issuance, with a failed-login limiter.

1. ``challenge(user_id)``: a random single-use nonce, stored with a short expiry.
2. ``login(user_id, nonce, signature)``: the nonce is taken (deleted) atomically, the
   signature over ``login_message`` is checked with the user's enrolled Ed25519 key,
   and an EdDSA JWT (iss ``kgc``, aud the service(s) the client names) is minted with
   the KGC's service key.

Failed logins are counted per *source* (the caller's address), never per target user
alone: a source past the limit for one user id (or past ten times the limit over all
ids) gets 429 with Retry-After for its failed attempts, while a valid signature is
always accepted, from any source. So nobody can lock a victim out by failing logins
in his name (issue 19, M3). The counters live in this process (one KGC instance).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta

import structlog

from kgc.errors import LoginFailed, LoginRateLimited, NotActive
from kgc.store import KgcStore
from phr.crypto.signing import SignatureInvalid, VerifyKey, b64u_decode
from phr.identity.proofs import login_message
from phr.identity.tokens import Audience, TokenSigner

log = structlog.get_logger("kgc.tokens")

#: how many times a source's failures for one user id its failures over all ids may be
SOURCE_FACTOR = 10
#: sliding windows kept at most (a flood of made-up sources forgets the oldest)
MAX_KEYS = 100_000


class LoginLimiter:
    """At most ``max_failures`` failed logins per (source, user id), and ten times that
    per source, within ``window_s`` seconds."""

    def __init__(self, max_failures: int, window_s: int) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[Hashable, deque[float]] = {}

    def _limits(self, source: str, user_id: str) -> list[tuple[Hashable, int]]:
        return [
            ((source, user_id), self.max_failures),
            (source, self.max_failures * SOURCE_FACTOR),
        ]

    def check(self, source: str, user_id: str, now: float | None = None) -> None:
        """Raise LoginRateLimited if ``source`` is past a limit for ``user_id``."""
        now = time.monotonic() if now is None else now
        for key, limit in self._limits(source, user_id):
            times = self._failures.get(key)
            if not times:
                continue
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if not times:
                del self._failures[key]
            elif len(times) >= limit:
                retry = int(times[0] + self.window_s - now) + 1
                raise LoginRateLimited(
                    "too many failed logins from this address; try again later",
                    retry_after_s=retry,
                )

    def failed(self, source: str, user_id: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key, _ in self._limits(source, user_id):
            self._failures.setdefault(key, deque()).append(now)
        while len(self._failures) > MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))


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
        # Never refused for failures: a valid signature must always be able to follow.
        # Unknown ids get a nonce too, so the answer does not reveal who is enrolled.
        nonce = secrets.token_urlsafe(24)
        expires = datetime.now(UTC) + timedelta(seconds=self.challenge_ttl_s)
        await self.store.put_challenge(nonce, user_id, expires)
        return nonce

    async def login(
        self, user_id: str, nonce: str, signature: str, *, source: str, audience: Audience
    ) -> str:
        """A token for a valid signature over a live challenge (whatever the limiter
        says); LoginFailed, or LoginRateLimited past the source's limit, otherwise."""
        taken = await self.store.take_challenge(nonce, user_id)
        user = await self.store.get_user(user_id) if taken is not None else None
        if taken is None or user is None or not _signed(user, user_id, nonce, signature):
            self.limiter.check(source, user_id)
            self.limiter.failed(source, user_id)
            log.info("login.failed", user_id=user_id, challenge_found=taken is not None)
            raise LoginFailed("unknown, expired or used challenge, or a wrong signature")
        if user["status"] != "active":
            raise NotActive(f"user is {user['status']}")
        token = self.signer.mint(
            subject=user_id,
            role=user["role"],
            ttl_s=self.token_ttl_s,
            audience=audience,
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

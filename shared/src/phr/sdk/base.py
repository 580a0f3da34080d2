"""What every SDK client shares: one httpx client, bearer tokens, async context use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx

from phr.sdk.transport import new_client

T = TypeVar("T")

#: a token, or something that gives one (e.g. a login that refreshes it)
TokenSource = str | Callable[[], str] | Callable[[], Awaitable[str]]


class BearerClient:
    """Holds the HTTP client (closed on exit if it made it) and the caller's token."""

    def __init__(
        self, token: TokenSource, *, http: httpx.AsyncClient | None = None, timeout_s: float = 60.0
    ) -> None:
        self._own_http = http is None
        self._http = http or new_client(timeout_s=timeout_s)
        self._token = token

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def _headers(self) -> dict[str, str]:
        token = self._token if isinstance(self._token, str) else self._token()
        if not isinstance(token, str):
            token = await token
        return {"Authorization": f"Bearer {token}"}


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    """Like asyncio.gather, but the first failure cancels the rest before it propagates."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

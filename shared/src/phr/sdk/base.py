"""What every SDK client shares: one httpx client, bearer tokens, async context use."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import ClassVar, Protocol, Self, TypeVar, runtime_checkable

import httpx

from phr.identity.tokens import Audience
from phr.sdk.transport import new_client

T = TypeVar("T")


@runtime_checkable
class Tokens(Protocol):
    """Gives the caller's token for one audience (e.g. :class:`phr.sdk.identity.Login`,
    which logs in once per audience and refreshes before expiry)."""

    async def for_audience(self, audience: Audience) -> str: ...


#: a token, something that gives one, or :class:`Tokens` (then each client asks for its
#: own service's audience: the way to call several services)
TokenSource = str | Callable[[], str] | Callable[[], Awaitable[str]] | Tokens


class BearerClient:
    """Holds the HTTP client (closed on exit if it made it) and the caller's token."""

    #: the service(s) this client's calls go to: the audience it asks :class:`Tokens` for
    audience: ClassVar[Audience]

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

    async def _headers(self, audience: Audience | None = None) -> dict[str, str]:
        """The bearer header; ``audience`` overrides the client's own (a call elsewhere)."""
        source = self._token
        if isinstance(source, Tokens):
            token = await source.for_audience(audience or self.audience)
        else:
            got = source if isinstance(source, str) else source()
            token = got if isinstance(got, str) else await got
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

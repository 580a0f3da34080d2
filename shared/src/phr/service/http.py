"""Calls from one service to another over HTTP: one pooled aiohttp session per service.

Services call each other on every access (user-api asks owner-api, three SRS nodes and
cloud-store), so the client's own cost counts. Measured here (2 cores, one uvicorn
endpoint, 16 concurrent callers): httpx spent about 1.4 ms of CPU per request, most of
it scanning its connection pool, and aiohttp about 0.08 ms. The SDK keeps httpx (its
callers pass their own ``httpx.AsyncClient``); services use this module::

    http = ServiceHttp(timeout_s=5.0)                 # in the lifespan; aclose() at exit
    resp = await http.request("GET", url, headers=auth)
    if resp.status == 200:
        body = resp.json()

Every failure to get an answer (refused, reset, timed out, broken body) raises
:class:`TransportFailed`; a status code is never an exception here, the caller decides.
The session is created on first use, inside the running event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from phr.http_pool import CHUNK, pooled_session
from phr.service.tracing import with_traceparent


class TransportFailed(Exception):
    """No HTTP answer: the peer refused, reset, timed out or sent a broken body.

    ``reason`` names the failure without internals (``ClientConnectorError``,
    ``timed out`` ...), fit for a problem's ``detail``; ``timeout`` tells a slow peer
    from an absent one.
    """

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout

    @classmethod
    def from_error(cls, exc: BaseException) -> TransportFailed:
        if isinstance(exc, TimeoutError):
            return cls("timed out", timeout=True)
        return cls(type(exc).__name__)


@dataclass(frozen=True)
class HttpResponse:
    """A whole response: status, headers (case-insensitive) and body."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON (``ValueError`` if it is not JSON)."""
        return orjson.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class StreamedResponse:
    """A response whose body is still on the wire: consume ``chunks`` or ``aclose``."""

    status: int
    headers: Mapping[str, str]
    _resp: aiohttp.ClientResponse

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body; a body read to its end frees the connection for reuse, one left
        half-read (the caller stopped) closes it."""
        whole = False
        try:
            async for chunk in self._resp.content.iter_chunked(CHUNK):
                yield chunk
            whole = True
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailed.from_error(exc) from exc
        finally:
            if whole:
                self._resp.release()
            else:
                self._resp.close()

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailed.from_error(exc) from exc
        finally:
            self._resp.release()

    async def aclose(self) -> None:
        self._resp.close()


class ServiceHttp:
    """One connection pool for all of a service's upstreams.

    ``timeout_s`` bounds a whole call unless the call passes its own; connecting is
    bounded by ``connect_s``. ``limit`` caps open connections across all hosts.
    """

    def __init__(self, *, timeout_s: float, connect_s: float = 2.0, limit: int = 256) -> None:
        self.timeout_s = timeout_s
        self.connect_s = connect_s
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = pooled_session(
                limit=self.limit,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=self.connect_s),
            )
        return self._session

    def _timeout(self, timeout_s: float | None) -> aiohttp.ClientTimeout | None:
        if timeout_s is None:
            return None
        return aiohttp.ClientTimeout(total=timeout_s, sock_connect=self.connect_s)

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send a request and read the whole answer."""
        if json is not None:
            headers = {**(headers or {}), "Content-Type": "application/json"}
        body = None if json is None else orjson.dumps(json)
        return await self._whole(method, url, timeout_s, headers=headers, params=params, data=body)

    async def stream(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> StreamedResponse:
        """Send a request; the status and headers come back, the body stays to be read."""
        kw: dict[str, Any] = {"headers": with_traceparent(headers)}
        timeout = self._timeout(timeout_s)
        if timeout is not None:
            kw["timeout"] = timeout
        try:
            resp = await self._client().request(method, url, **kw)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailed.from_error(exc) from exc
        return StreamedResponse(resp.status, resp.headers, resp)

    async def upload(
        self,
        method: str,
        url: str,
        chunks: AsyncIterable[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> HttpResponse:
        """Send a body from ``chunks`` without holding it whole (give ``Content-Length``
        in ``headers`` to avoid chunked transfer encoding)."""
        return await self._whole(method, url, timeout_s, headers=headers, data=chunks)

    async def _whole(
        self, method: str, url: str, timeout_s: float | None, **kw: Any
    ) -> HttpResponse:
        timeout = self._timeout(timeout_s)
        if timeout is not None:
            kw["timeout"] = timeout
        kw["headers"] = with_traceparent(kw.get("headers"))
        try:
            async with self._client().request(method, url, **kw) as resp:
                return HttpResponse(resp.status, resp.headers, await resp.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportFailed.from_error(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
            # let the connector's transports close before the loop goes (aiohttp docs)
            await asyncio.sleep(0)

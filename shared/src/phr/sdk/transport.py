"""The SDK's HTTP: httpx's API over an aiohttp connection pool.

The SDK speaks httpx (callers may pass their own ``httpx.AsyncClient``, tests an ASGI
transport), but httpx's own pool (httpcore) spends about 0.8 ms of CPU per request at
one caller and 1.5 ms at sixteen (it checks every pooled connection on every request);
over aiohttp the same request costs about 0.35 ms (``bench``: a reader makes two
requests per access). :func:`new_client` is what the SDK's clients use when given none::

    async with new_client(timeout_s=30.0, limit=64) as http:
        resp = await http.get(url)

aiohttp's failures become httpx's exceptions, so callers catch ``httpx.TransportError``
(``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``ReadError``) as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx

from phr.http_pool import CHUNK, pooled_session
from phr.telemetry import inject_traceparent


@contextmanager
def _mapped() -> Iterator[None]:
    """aiohttp's exceptions as httpx's (most specific first)."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
    except aiohttp.SocketTimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
    except aiohttp.ClientConnectorError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.ReadError(str(exc)) from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientResponseError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
    except TimeoutError as exc:
        raise httpx.TimeoutException(str(exc) or "timed out") from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc)) from exc


class _Body(httpx.AsyncByteStream):
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._resp.content.iter_chunked(CHUNK):
                yield chunk

    async def aclose(self) -> None:
        # read to the end: the connection goes back to the pool; else it is closed
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport on one aiohttp session (made on first use, in the loop)."""

    def __init__(self, *, limit: int = 100) -> None:
        self.limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # httpx decodes bodies and sets its own headers, as with its own transport
            self._session = pooled_session(limit=self.limit)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        headers = request.headers.multi_items()
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a streamed body: aiohttp frames it
            data = request.stream  # type: ignore[assignment]
            headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
            connect=timeouts.get("pool"),
        )
        with _mapped():
            resp = await self._client().request(
                request.method,
                str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                timeout=timeout,
            )
        return httpx.Response(
            status_code=resp.status,
            headers=resp.raw_headers,
            stream=_Body(resp),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (resp.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


def new_client(
    *, timeout_s: float = 60.0, connect_s: float = 5.0, limit: int = 100
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on :class:`AiohttpTransport` (``limit`` connections);
    every request carries the current span's ``traceparent`` (:mod:`phr.telemetry`)."""
    return httpx.AsyncClient(
        transport=AiohttpTransport(limit=limit),
        timeout=httpx.Timeout(timeout_s, connect=connect_s),
        event_hooks={"request": [inject_traceparent]},
    )

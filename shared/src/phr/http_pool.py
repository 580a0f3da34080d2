"""One aiohttp connection pool, the same for the SDK's transport and for service calls.

Neutral ground: ``phr.sdk.transport`` (httpx's API over it) and ``phr.service.http``
(service-to-service calls) both build their session here, so neither imports the
other (an import contract keeps ``phr.service`` off ``phr.sdk``).
"""

from __future__ import annotations

import aiohttp

#: below uvicorn's 5 s keep-alive: a pooled connection is never reused as it closes
KEEPALIVE_S = 4.0
#: bytes per read of a streamed body
CHUNK = 1 << 16


def pooled_session(
    *, limit: int, timeout: aiohttp.ClientTimeout | None = None
) -> aiohttp.ClientSession:
    """An aiohttp session on one keep-alive pool of ``limit`` connections, bodies left as
    sent (no decompression). Make it inside the running event loop."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=KEEPALIVE_S),
        timeout=timeout or aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
    )

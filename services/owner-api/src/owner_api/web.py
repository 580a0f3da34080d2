"""The patient's web page: the built files of ``web/dist`` at ``/`` under a strict CSP.

Every script, style and the Umbral WASM come from this origin (no CDN: hospital networks
are often air-gapped); the page talks to this service and, by CORS, to the KGC, user-api,
the ledger and the S3 endpoint of presigned URLs, and to nothing else. The KGC's URL
reaches the page in a ``<meta>`` element, so the page holds no inline script.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from owner_api.settings import Settings
from phr.service.registry import Registry

#: the assets' path; index.html names its scripts and styles under it
ASSETS = "/static"
#: the placeholder index.html carries where the KGC's public URL goes
KGC_PLACEHOLDER = "%PHR_KGC_URL%"
#: the other services the page calls (their public URLs, from the registry)
PEERS = ("kgc", "user-api", "ledger")
#: assets go gzipped to a browser that asks (the bundle, with R4's JSON Schema, is
#: 1.8 MB; about a fifth of that on the wire): a phone on a hospital's guest Wi-Fi
GZIP_MIN_BYTES = 1024


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (what CSP and CORS compare)."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"not an absolute URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(connect: Iterable[str]) -> str:
    """No inline script or style, no eval but WebAssembly's, no frames, no plugins."""
    sources = " ".join(["'self'", *sorted({origin(u) for u in connect})])
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {sources}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def page_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": "no-cache",
    }


class _Headed:
    """An ASGI app with fixed headers added to each of its answers."""

    def __init__(self, app: StaticFiles, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_headed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_headed)


def peer_urls(settings: Settings) -> tuple[str, list[str]]:
    """(the KGC's public URL, every URL the page may connect to)."""
    if settings.registry_file is not None:
        registry = Registry.load(settings.registry_file)
        urls = {name: registry.public_url(name) for name in PEERS if name in registry.services}
    else:
        urls = {}
    kgc = settings.web_kgc_url or urls.get("kgc") or settings.kgc_url
    if kgc is None:
        raise ValueError("owner-api: the page needs the KGC's URL (WEB_KGC_URL or REGISTRY_FILE)")
    return kgc, [kgc, *urls.values(), *settings.web_connect_src]


def install_page(app: FastAPI, settings: Settings) -> None:
    """Serve ``settings.web_dir`` (the build of ``web/``) at ``/``; nothing if unset."""
    if settings.web_dir is None:
        return
    root = Path(settings.web_dir)
    index = root / "index.html"
    if not index.is_file():
        raise ValueError(f"owner-api: {index} is missing: build the page (make setup)")
    kgc, connect = peer_urls(settings)
    headers = page_headers(content_security_policy(connect))
    page = index.read_text(encoding="utf-8").replace(KGC_PLACEHOLDER, html.escape(kgc))

    async def patient_page() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    app.add_api_route("/", patient_page, include_in_schema=False)
    assets = _Headed(StaticFiles(directory=root), headers)
    app.mount(ASSETS, GZipMiddleware(assets, minimum_size=GZIP_MIN_BYTES), name="web")

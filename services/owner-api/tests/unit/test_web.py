"""The page's serving: index.html with the KGC's URL and a strict CSP, assets under the
same headers, nothing at / without a build; CORS for the page's origin only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from owner_api.settings import Settings
from owner_api.web import content_security_policy, install_page, origin
from phr.service.app import allow_browser_origins

KGC = "http://kgc.example:8001"


def built(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(
        '<meta name="phr-kgc" content="%PHR_KGC_URL%"><script type="module" '
        'src="/static/app.js"></script>'
    )
    (tmp_path / "app.js").write_text("export {};\n")
    return tmp_path


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://page")


def settings(**kw: object) -> Settings:
    return Settings(kgc_url=KGC, web_kgc_url=KGC, **kw)  # type: ignore[arg-type]


async def test_page_and_assets_carry_the_policy(tmp_path: Path) -> None:
    app = FastAPI()
    install_page(app, settings(web_dir=built(tmp_path), web_connect_src=["http://s3:9000/x"]))
    async with client(app) as http:
        page = await http.get("/")
        asset = await http.get("/static/app.js")
        missing = await http.get("/static/nope.js")
    assert page.status_code == 200
    assert f'content="{KGC}"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "connect-src 'self' http://kgc.example:8001 http://s3:9000;" in csp
    assert asset.status_code == 200 and asset.headers["content-security-policy"] == csp
    assert asset.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404


async def test_assets_go_gzipped_to_a_browser_that_asks(tmp_path: Path) -> None:
    root = built(tmp_path)
    script = "export const schema = " + '{"type": "object"}, ' * 5000 + "0;\n"
    (root / "app.js").write_text(script)
    app = FastAPI()
    install_page(app, settings(web_dir=root))
    async with client(app) as http:
        zipped = await http.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
        plain = await http.get("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.num_bytes_downloaded < len(script) // 10  # the bytes on the wire
    assert zipped.text == script  # httpx undoes the gzip: the same bytes
    assert zipped.headers["content-security-policy"] == plain.headers["content-security-policy"]
    assert "content-encoding" not in plain.headers and plain.text == script


async def test_no_build_no_page(tmp_path: Path) -> None:
    app = FastAPI()
    install_page(app, settings())
    async with client(app) as http:
        assert (await http.get("/")).status_code == 404
    with pytest.raises(ValueError, match="build the page"):
        install_page(FastAPI(), settings(web_dir=tmp_path))


def test_policy_names_origins_only() -> None:
    csp = content_security_policy(["https://a.example/v1/x", "https://a.example", "http://b:1"])
    assert "connect-src 'self' http://b:1 https://a.example;" in csp
    assert "unsafe-inline" not in csp
    with pytest.raises(ValueError):
        origin("/relative")


async def test_cors_only_for_the_page_origin() -> None:
    app = FastAPI()

    @app.get("/v1/thing")
    async def thing() -> dict[str, str]:
        return {"ok": "yes"}

    allow_browser_origins(app, ["http://page"])
    async with client(app) as http:
        ours = await http.options(
            "/v1/thing",
            headers={
                "Origin": "http://page",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        theirs = await http.get("/v1/thing", headers={"Origin": "https://evil.example"})
    assert ours.status_code == 200
    assert ours.headers["access-control-allow-origin"] == "http://page"
    assert "authorization" in ours.headers["access-control-allow-headers"]
    assert "access-control-allow-origin" not in theirs.headers

"""RevocationWatch against real HTTP peers standing in for SRS nodes' ``GET /v1/grants``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from owner_api.sharing.revocation import RevocationWatch

PATIENT, GRANT = "p_1", "g_1"
SEEN = web.AppKey("seen", dict)


def node_app(answers: Callable[[int], tuple[int, list[dict[str, Any]]]]) -> web.Application:
    """A node answering its n-th ``/v1/grants`` call with ``answers(n)``."""
    seen: dict[str, Any] = {"calls": 0, "auth": None, "patient": None}

    async def grants(request: web.Request) -> web.Response:
        seen["calls"] += 1
        seen["auth"] = request.headers.get("Authorization")
        seen["patient"] = request.query.get("patient_id")
        status, listed = answers(seen["calls"])
        return web.json_response({"grants": listed}, status=status)

    app = web.Application()
    app[SEEN] = seen
    app.router.add_get("/v1/grants", grants)
    return app


def listed(status: str) -> list[dict[str, Any]]:
    return [{"grant_id": "g_other", "status": "active"}, {"grant_id": GRANT, "status": status}]


@pytest.fixture
async def servers() -> AsyncIterator[Callable[..., Any]]:
    started: list[TestServer] = []

    async def start(answers: Callable[[int], tuple[int, list[dict[str, Any]]]]) -> TestServer:
        server = TestServer(node_app(answers))
        await server.start_server()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.close()


def url(server: TestServer) -> str:
    return str(server.make_url("/")).rstrip("/")


async def watch_of(nodes: dict[str, str], timeout_s: float = 1.0) -> RevocationWatch:
    return RevocationWatch(nodes, lambda: "svc-token", timeout_s=timeout_s, poll_s=0.01)


async def test_enforced_once_n_minus_t_plus_one_nodes_apply_it(servers: Any) -> None:
    revoked = await servers(lambda n: (200, listed("revoked")))
    late = await servers(lambda n: (200, listed("revoked" if n >= 3 else "active")))
    stale = await servers(lambda n: (200, listed("active")))
    watch = await watch_of({"a": url(revoked), "b": url(late), "c": url(stale)})
    try:
        # 3 nodes, threshold 2: two must have applied it; "b" does so at its 3rd answer
        assert await watch.enforced(PATIENT, GRANT, threshold=2) is True
    finally:
        await watch.aclose()
    seen = late.app[SEEN]
    assert seen["calls"] == 3
    assert seen["auth"] == "Bearer svc-token" and seen["patient"] == PATIENT
    # a node that already confirmed is not asked again
    assert revoked.app[SEEN]["calls"] == 1


async def test_not_enforced_when_too_few_nodes_confirm_before_the_deadline(servers: Any) -> None:
    revoked = await servers(lambda n: (200, listed("revoked")))
    unaware = await servers(lambda n: (200, [{"grant_id": "g_other", "status": "revoked"}]))
    failing = await servers(lambda n: (503, []))
    nodes = {"a": url(revoked), "b": url(unaware), "c": url(failing), "d": "http://127.0.0.1:9"}
    watch = await watch_of(nodes, timeout_s=0.3)
    try:
        # a node that does not list the grant, a failing and an unreachable node do not
        # count: only one of the three needed (4 nodes, threshold 2) confirmed
        assert await watch.enforced(PATIENT, GRANT, threshold=2) is False
        # with threshold 4 (all nodes needed to serve) one confirmation suffices
        assert await watch.enforced(PATIENT, GRANT, threshold=4) is True
    finally:
        await watch.aclose()
    assert unaware.app[SEEN]["calls"] > 1


async def test_no_known_node_is_not_waited_for() -> None:
    watch = await watch_of({})
    try:
        assert await watch.enforced(PATIENT, GRANT, threshold=2) is True
    finally:
        await watch.aclose()

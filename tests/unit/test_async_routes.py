"""Every route and dependency of every service is async.

FastAPI runs a plain ``def`` dependency or endpoint on its thread pool: one thread hop
per request, which on the access path cost more than the work itself.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

SERVICES = ["kgc", "owner_api", "user_api", "srs", "ledger", "cloud_store"]


def _is_async(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 - a class instance (HTTPBearer)
    )


def _sync_calls(dependant: Dependant) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        if dep.call is not None and not _is_async(dep.call):
            found.append(getattr(dep.call, "__qualname__", repr(dep.call)))
        found += _sync_calls(dep)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (inner := getattr(route, "original_router", None)) is not None:
            found += _api_routes(inner.routes)  # an included router
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_or_dependency_runs_on_the_thread_pool(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRS_NODE_ID", "srs-1")
    app = importlib.import_module(f"{service}.main").create_app()
    routes = _api_routes(app.routes)
    assert routes, "no routes found"
    sync = [f"endpoint {r.path}" for r in routes if not _is_async(r.endpoint)]
    for route in routes:
        sync += [f"{route.path}: {name}" for name in _sync_calls(route.dependant)]
    assert sync == []


def test_the_check_sees_a_sync_dependency() -> None:
    from fastapi import Depends, FastAPI

    def plain() -> int:
        return 1

    app = FastAPI()

    @app.get("/x")
    async def x(v: int = Depends(plain)) -> int:
        return v

    route = next(r for r in app.routes if isinstance(r, APIRoute))
    assert _sync_calls(route.dependant) == ["test_the_check_sees_a_sync_dependency.<locals>.plain"]

"""FastAPI dependencies shared by every service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from phr.service.runtime import ServiceRuntime


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]


def from_state(name: str) -> Any:
    """A dependency returning ``request.state.<name>`` (set by the service's setup).

        StoreDep = Annotated[RecordStore, from_state("store")]

    Async on purpose: FastAPI runs sync dependencies in a thread pool.
    """

    async def get(request: Request) -> Any:
        return getattr(request.state, name)

    get.__name__ = f"state_{name}"
    return Depends(get)

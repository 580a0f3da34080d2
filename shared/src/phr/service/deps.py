"""FastAPI dependencies shared by every service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from phr.service.runtime import ServiceRuntime


async def get_runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]

"""Annotated dependencies of the KGC's handlers (read from request.state)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kgc.groups import GroupKeys
from kgc.tokens import LoginService
from kgc.tracing import Tracer
from kgc.users import Directory
from phr.identity.params import SignedParams
from phr.service.deps import from_state


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id (opaque; the envelope replaces a malformed one)."""
    cid = getattr(request.state, "correlation_id", None)
    return str(cid) if cid else None


DirectoryDep = Annotated[Directory, from_state("directory")]
LoginDep = Annotated[LoginService, from_state("login")]
TracerDep = Annotated[Tracer, from_state("tracer")]
ParamsDep = Annotated[SignedParams, from_state("params")]
CorrelationDep = Annotated[str | None, Depends(correlation_id)]
GroupsDep = Annotated[GroupKeys, from_state("groups")]

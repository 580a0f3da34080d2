"""The KGC's typed lifespan state and the annotated dependencies its handlers read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from kgc.groups import GroupKeys
from kgc.tokens import LoginService
from kgc.tracing import Tracer
from kgc.users import Directory
from phr.identity.params import SignedParams
from phr.service.state import state_part


@dataclass(frozen=True)
class KgcState:
    """What the KGC's lifespan yields (built by ``kgc.main``'s setup)."""

    params: SignedParams
    directory: Directory
    groups: GroupKeys
    login: LoginService
    tracer: Tracer


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id (opaque; the envelope replaces a malformed one)."""
    cid = getattr(request.state, "correlation_id", None)
    return str(cid) if cid else None


DirectoryDep = Annotated[Directory, Depends(state_part(KgcState, lambda s: s.directory))]
LoginDep = Annotated[LoginService, Depends(state_part(KgcState, lambda s: s.login))]
TracerDep = Annotated[Tracer, Depends(state_part(KgcState, lambda s: s.tracer))]
ParamsDep = Annotated[SignedParams, Depends(state_part(KgcState, lambda s: s.params))]
CorrelationDep = Annotated[str | None, Depends(correlation_id)]
GroupsDep = Annotated[GroupKeys, Depends(state_part(KgcState, lambda s: s.groups))]

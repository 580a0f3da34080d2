"""Annotated dependencies of the KGC's handlers (read from request.state)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from kgc.groups import GroupKeys
from kgc.tokens import LoginService
from kgc.tracing import Tracer
from kgc.users import Directory
from phr.identity.params import SignedParams


async def get_directory(request: Request) -> Directory:
    directory: Directory = request.state.directory
    return directory


async def get_login(request: Request) -> LoginService:
    login: LoginService = request.state.login
    return login


async def get_tracer(request: Request) -> Tracer:
    tracer: Tracer = request.state.tracer
    return tracer


async def get_groups(request: Request) -> GroupKeys:
    groups: GroupKeys = request.state.groups
    return groups


async def get_params(request: Request) -> SignedParams:
    params: SignedParams = request.state.params
    return params


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id if it is a UUID (events carry UUIDs only)."""
    cid = getattr(request.state, "correlation_id", None)
    try:
        return str(UUID(str(cid))) if cid else None
    except ValueError:
        return None


DirectoryDep = Annotated[Directory, Depends(get_directory)]
LoginDep = Annotated[LoginService, Depends(get_login)]
TracerDep = Annotated[Tracer, Depends(get_tracer)]
ParamsDep = Annotated[SignedParams, Depends(get_params)]
CorrelationDep = Annotated[str | None, Depends(correlation_id)]
GroupsDep = Annotated[GroupKeys, Depends(get_groups)]

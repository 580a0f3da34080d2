"""Annotated dependencies of user-api's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from phr.identity.tokens import Principal
from phr.service.auth import CurrentPrincipal
from phr.service.deps import from_state
from user_api.access import AccessService
from user_api.errors import NotADataUser
from user_api.search import SearchService
from user_api.store import MongoStore


async def require_data_user(principal: CurrentPrincipal) -> Principal:
    """A user's own token: grants are per user, a service token reads nothing here."""
    if principal.is_service:
        raise NotADataUser("send the data user's own token")
    return principal


async def bearer_token(request: Request) -> str:
    """The caller's token as he sent it (forwarded to the SRS nodes, never logged)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


AccessDep = Annotated[AccessService, from_state("access_service")]
SearchDep = Annotated[SearchService, from_state("search_service")]
StoreDep = Annotated[MongoStore, from_state("user_store")]
DataUser = Annotated[Principal, Depends(require_data_user)]
BearerToken = Annotated[str, Depends(bearer_token)]

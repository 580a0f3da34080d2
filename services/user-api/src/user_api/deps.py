"""user-api's typed lifespan state and the annotated dependencies its routes read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from phr.identity.tokens import Principal
from phr.service.auth import CurrentPrincipal
from phr.service.state import state_part
from user_api.access import AccessService
from user_api.errors import NotADataUser
from user_api.search import SearchService
from user_api.store import Store


@dataclass(frozen=True)
class UserState:
    """What user-api's lifespan yields (built by ``user_api.main``'s setup)."""

    store: Store
    search: SearchService
    access: AccessService


async def require_data_user(principal: CurrentPrincipal) -> Principal:
    """A user's own token: grants are per user, a service token reads nothing here."""
    if principal.is_service:
        raise NotADataUser("send the data user's own token")
    return principal


async def bearer_token(request: Request) -> str:
    """The caller's token as he sent it (forwarded to the SRS nodes, never logged)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


AccessDep = Annotated[AccessService, Depends(state_part(UserState, lambda s: s.access))]
SearchDep = Annotated[SearchService, Depends(state_part(UserState, lambda s: s.search))]
StoreDep = Annotated[Store, Depends(state_part(UserState, lambda s: s.store))]
DataUser = Annotated[Principal, Depends(require_data_user)]
BearerToken = Annotated[str, Depends(bearer_token)]

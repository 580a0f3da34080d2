"""The KGC's directory over HTTP, with this service's own token: users and groups.

owner-api asks it who a grantee or delegate is (his Umbral key, status, role) and which
public keys a group has, so that a grant's ``receiving_pk`` is checked against the
KGC's word, not the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from owner_api.errors import DirectoryUnavailable
from phr.service.http import ServiceHttp, TransportFailed

TokenSource = Callable[[], str]


class Directory(Protocol):
    """What grants and delegations ask the KGC (:class:`KgcDirectory` over HTTP; an
    in-process fake in the fast tier)."""

    async def user(self, user_id: str) -> dict[str, Any] | None: ...

    async def group(self, group_id: str) -> dict[str, Any] | None: ...


class KgcDirectory:
    def __init__(self, base_url: str, token: TokenSource, *, timeout_s: float) -> None:
        self._base = base_url.rstrip("/")
        self._http = ServiceHttp(timeout_s=timeout_s, limit=32)
        self._token = token

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            resp = await self._http.request(
                "GET", f"{self._base}{path}", headers={"Authorization": f"Bearer {self._token()}"}
            )
        except TransportFailed as exc:
            raise DirectoryUnavailable(f"the KGC does not answer ({exc.reason})") from None
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise DirectoryUnavailable(f"the KGC answered {resp.status}")
        body: dict[str, Any] = resp.json()
        return body

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """The user's directory entry (``umbral_public``, ``status``, ``role`` …) or None."""
        return await self._get(f"/v1/users/{user_id}")

    async def group(self, group_id: str) -> dict[str, Any] | None:
        """The group's selector and public keys by version, or None."""
        return await self._get(f"/v1/groups/{group_id}")

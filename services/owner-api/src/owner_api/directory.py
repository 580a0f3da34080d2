"""The KGC's directory over HTTP, with this service's own token: users and groups.

owner-api asks it who a grantee or delegate is (his Umbral key, status, role) and which
public keys a group has, so that a grant's ``receiving_pk`` is checked against the
KGC's word, not the client's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from owner_api.errors import DirectoryUnavailable

TokenSource = Callable[[], str]


class KgcDirectory:
    def __init__(self, base_url: str, token: TokenSource, *, timeout_s: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_s, connect=2.0)
        )
        self._token = token

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str) -> dict[str, Any] | None:
        try:
            resp = await self._http.get(path, headers={"Authorization": f"Bearer {self._token()}"})
        except httpx.HTTPError as exc:
            raise DirectoryUnavailable(f"the KGC does not answer ({type(exc).__name__})") from None
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise DirectoryUnavailable(f"the KGC answered {resp.status_code}")
        body: dict[str, Any] = resp.json()
        return body

    async def user(self, user_id: str) -> dict[str, Any] | None:
        """The user's directory entry (``umbral_public``, ``status``, ``role`` …) or None."""
        return await self._get(f"/v1/users/{user_id}")

    async def group(self, group_id: str) -> dict[str, Any] | None:
        """The group's selector and public keys by version, or None."""
        return await self._get(f"/v1/groups/{group_id}")

"""A revocation is enforced when its call returns: owner-api waits for the SRS nodes.

A grant opens data only where ``t`` of the ``N`` SRS nodes serve it. Once ``N - t + 1``
nodes no longer hold it active, no threshold of cfrags can be assembled, so the revoked
grantee is denied from then on. After recording a revocation (and handing its
``acl.revoked`` to the outbox), owner-api asks each node's ``GET /v1/grants`` with its
own service token until that many list the grant as not active, or the deadline
passes. Past the deadline the revocation stays recorded and emitted, the nodes apply
it when they catch up, and the route says so (202 instead of 200).

A node that does not list the grant at all has not seen the revocation yet (a node
keeps a revoked grant as a tombstone), so it does not count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from phr.service.http import ServiceHttp, TransportFailed

log = structlog.get_logger("owner_api.revocation")

TokenSource = Callable[[], str]


class RevocationWatch:
    """Waits until enough SRS nodes have applied a grant's revocation."""

    def __init__(
        self,
        nodes: Mapping[str, str],
        token: TokenSource,
        *,
        timeout_s: float,
        poll_s: float = 0.05,
    ) -> None:
        #: node id -> internal base URL
        self.nodes = {n: u.rstrip("/") for n, u in nodes.items()}
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._token = token
        self._http = ServiceHttp(timeout_s=5.0, limit=16)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def enforced(self, patient_id: str, grant_id: str, threshold: int) -> bool:
        """True once ``N - threshold + 1`` nodes list the grant as not active; False at
        the deadline (or at once with no node known, which only tests configure)."""
        if not self.nodes:
            return True
        need = max(1, len(self.nodes) - threshold + 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        confirmed: set[str] = set()
        while True:
            pending = [n for n in self.nodes if n not in confirmed]
            applied = await asyncio.gather(
                *(self._applied(n, patient_id, grant_id) for n in pending)
            )
            confirmed.update(n for n, ok in zip(pending, applied, strict=True) if ok)
            if len(confirmed) >= need:
                return True
            if loop.time() >= deadline:
                log.warning(
                    "grant.revocation_pending",
                    patient_id=patient_id,
                    grant_id=grant_id,
                    confirmed=sorted(confirmed),
                    needed=need,
                )
                return False
            await asyncio.sleep(self.poll_s)

    async def _applied(self, node: str, patient_id: str, grant_id: str) -> bool:
        try:
            resp = await self._http.request(
                "GET",
                f"{self.nodes[node]}/v1/grants",
                params={"patient_id": patient_id},
                headers={"Authorization": f"Bearer {self._token()}"},
            )
        except TransportFailed:
            return False
        if resp.status != 200:
            return False
        for grant in resp.json().get("grants", []):
            if grant.get("grant_id") == grant_id:
                return bool(grant.get("status") != "active")
        return False

"""Ask every SRS node at once; tolerate N - t nodes down, slow or lying about who they are.

Each node gets the data user's own bearer token (grants are per user; the node checks
the token itself) and a per-node timeout. An answer counts only if its
``node_signature`` verifies under the registry's key of that node and it echoes the
request (request id, patient, record, node id). Which segments the answers grant is
counted by :func:`phr.client.verifier.tally`, the same rule the reader's SDK applies
(and then checks every cfrag, which user-api cannot: it holds no secret).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from phr.client.srs import NodeAnswerInvalid, verify_node_answer
from phr.crypto.signing import VerifyKey
from phr.service.http import ServiceHttp, TransportFailed

log = structlog.get_logger("user_api.fanout")


@dataclass(frozen=True)
class SrsNodeRef:
    node_id: str
    url: str
    key: VerifyKey


@dataclass(frozen=True)
class NodeAnswer:
    """A node's signed answer, verified."""

    node_id: str
    body: dict[str, Any]
    elapsed_ms: float


@dataclass(frozen=True)
class NodeFailure:
    """A node that gave no usable answer: down, slow, refused, or unverifiable."""

    node_id: str
    reason: str


NodeResult = NodeAnswer | NodeFailure


class SrsFanout:
    def __init__(self, http: ServiceHttp, nodes: Sequence[SrsNodeRef], *, timeout_s: float) -> None:
        self.http = http
        self.nodes = list(nodes)
        self.timeout_s = timeout_s

    async def reencrypt(
        self,
        token: str,
        request: Mapping[str, Any],
        *,
        expected: Mapping[str, str],
        correlation_id: str | None = None,
    ) -> list[NodeResult]:
        """Every node's result, in node order; never raises for one node's failure."""
        headers = {"Authorization": f"Bearer {token}"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return list(
            await asyncio.gather(*(self._ask(n, request, headers, expected) for n in self.nodes))
        )

    async def _ask(
        self,
        node: SrsNodeRef,
        request: Mapping[str, Any],
        headers: Mapping[str, str],
        expected: Mapping[str, str],
    ) -> NodeResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self.http.request(
                    "POST", f"{node.url}/v1/reencrypt", json=request, headers=headers
                )
        except TimeoutError:
            return self._failed(node, "timeout")
        except TransportFailed as exc:
            if exc.timeout:
                return self._failed(node, "timeout")
            return self._failed(node, f"unreachable ({exc.reason})")
        if resp.status != 200:
            return self._failed(node, f"status {resp.status}")
        try:
            body = verify_node_answer(node.node_id, node.key, resp.json(), expected)
        except (NodeAnswerInvalid, ValueError) as exc:
            log.warning("srs.answer_rejected", node_id=node.node_id, reason=str(exc))
            return NodeFailure(node.node_id, str(exc))
        return NodeAnswer(node.node_id, body, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _failed(node: SrsNodeRef, reason: str) -> NodeFailure:
        log.info("srs.node_failed", node_id=node.node_id, reason=reason)
        return NodeFailure(node.node_id, reason)

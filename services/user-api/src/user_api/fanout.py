"""Ask every SRS node at once; tolerate N - t nodes down, slow or lying about who they are.

Each node gets the data user's own bearer token (grants are per user; the node checks
the token itself) and a per-node timeout. An answer counts only if its
``node_signature`` verifies under the registry's key of that node and it echoes the
request (request id, patient, record, node id). Per segment, the cfrags of answers
that agree on one grant are counted; a segment is granted with at least ``t`` of
them (t = the larger of the deployment's threshold and the grant document's), else
denied with the nodes' reasons. user-api does not verify cfrags: it holds no secret
and is not trusted; the reader's SDK verifies every node signature and cfrag again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass
class SegmentOutcome:
    segment: str
    grant_id: str
    key_version: int
    threshold: int
    breakglass: bool
    cfrags: list[dict[str, Any]]


@dataclass
class Combined:
    granted: dict[str, SegmentOutcome] = field(default_factory=dict)
    denied: list[dict[str, Any]] = field(default_factory=list)
    breakglass: dict[str, Any] | None = None


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


def _grant_threshold(cfrag: Mapping[str, Any]) -> int:
    try:
        return int(cfrag["signed_grant"]["grant"]["threshold"])
    except (KeyError, TypeError, ValueError):
        return 0


def combine(answers: Sequence[NodeAnswer], segments: Sequence[str], threshold: int) -> Combined:
    """Per segment: granted with >= t cfrags from distinct nodes on one grant, else denied."""
    out = Combined()
    reasons: dict[str, dict[str, str]] = {s: {} for s in segments}
    cfrags: dict[str, dict[tuple[str, int], dict[str, dict[str, Any]]]] = {s: {} for s in segments}
    breakglass_reason: str | None = None
    for answer in answers:
        for item in answer.body.get("granted", []):
            segment = item.get("segment")
            if segment not in cfrags or item.get("node_id") != answer.node_id:
                continue
            key = (str(item.get("grant_id")), int(item.get("key_version", 0)))
            cfrags[segment].setdefault(key, {})[answer.node_id] = item
        for item in answer.body.get("denied", []):
            if item.get("segment") in reasons:
                reasons[item["segment"]][answer.node_id] = str(item.get("reason", ""))
        if answer.body.get("breakglass"):
            breakglass_reason = str(answer.body["breakglass"].get("reason", ""))
    for segment in segments:
        best = max(cfrags[segment].items(), key=lambda kv: len(kv[1]), default=None)
        if best is not None:
            (grant_id, key_version), by_node = best
            items = [by_node[n] for n in sorted(by_node)]
            needed = max(threshold, max(_grant_threshold(i) for i in items))
            if len(items) >= needed:
                out.granted[segment] = SegmentOutcome(
                    segment=segment,
                    grant_id=grant_id,
                    key_version=key_version,
                    threshold=needed,
                    breakglass=any(bool(i.get("breakglass")) for i in items),
                    cfrags=items,
                )
                continue
            for node_id in by_node:
                reasons[segment].setdefault(node_id, "granted")
        by_node_reason = reasons[segment]
        common = Counter(r for r in by_node_reason.values() if r != "granted").most_common(1)
        out.denied.append(
            {
                "segment": segment,
                "reason": common[0][0] if common else f"fewer than {threshold} nodes granted",
                "nodes": dict(sorted(by_node_reason.items())),
            }
        )
    emergency = sorted(s for s, o in out.granted.items() if o.breakglass)
    if emergency:
        out.breakglass = {"reason": breakglass_reason or "", "segments": emergency}
    return out

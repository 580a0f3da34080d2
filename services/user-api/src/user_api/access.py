"""Access to a record for a data user: one request per record, bytes straight from S3.

Flow of ``POST /v1/access`` (:meth:`AccessService.request_access`):

1. A break-glass request without a reason is refused (422) before anything else.
2. ``access.requested`` is published (subject: the patient) while the signed manifest
   is fetched from owner-api; if the event cannot be published nothing is asked.
3. The segments asked for are those named, or by default those the caller holds
   usable grants for in this service's grant index (with break-glass, the emergency
   ones too), so a normal read asks for nothing it will be refused. With nothing in
   the index (a grant not consumed yet) every segment is asked: the nodes decide.
4. All N SRS nodes are asked at once with the caller's own token, every segment in
   one call each (:mod:`user_api.fanout`); fewer than t verified answers -> 503.
5. :func:`phr.client.verifier.tally` (the rule the reader applies too): a segment is
   granted when t nodes sent cfrags on one grant, else denied with their reasons.
6. Only for granted segments: one presigned S3 GET URL per segment object, valid for
   ``access_ttl_s`` seconds, and the signed manifest. A caller granted nothing gets
   neither: no segment names, sizes or capsules of a record he may not read.

user-api never holds a key and proxies no byte: the answer carries the nodes' signed
answers as they signed them; the reader's SDK verifies them, the cfrags and the
ciphertext's SHA-256 against the manifest.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import structlog

from phr.api.ids import blob_key
from phr.api.user import AccessIn, AccessOut, GrantedSegment
from phr.client.verifier import tally
from phr.events.access import AccessRequested
from phr.events.base import EventData
from phr.identity.tokens import Principal
from user_api.errors import AuditUnavailable, BreakglassNeedsReason, SrsUnavailable
from user_api.fanout import NodeAnswer, NodeFailure, SrsFanout
from user_api.grants import scope_for
from user_api.store import Store
from user_api.upstream import Upstream

log = structlog.get_logger("user_api.access")
A = TypeVar("A")
B = TypeVar("B")


class Emit(Protocol):
    """Publishes one event as this service (``ServiceRuntime.emit``)."""

    async def __call__(
        self, type: str, data: EventData, *, subject: str, correlation_id: str | None = None
    ) -> Any: ...


def _now() -> datetime:
    return datetime.now(UTC)


async def _both(a: Awaitable[A], b: Awaitable[B]) -> tuple[A, B]:
    """Await both; the first failure cancels the other before it propagates."""
    ta, tb = asyncio.ensure_future(a), asyncio.ensure_future(b)
    try:
        return await ta, await tb
    except BaseException:
        for task in (ta, tb):
            task.cancel()
        await asyncio.gather(ta, tb, return_exceptions=True)
        raise


def _node_state(result: NodeAnswer | NodeFailure) -> str:
    return "answered" if isinstance(result, NodeAnswer) else result.reason


def _manifest_segments(signed_manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    try:
        entries = signed_manifest["manifest"]["segments"]
        return {str(e["name"]): e for e in entries}
    except (KeyError, TypeError):
        return {}


class AccessService:
    def __init__(
        self,
        emit: Emit,
        store: Store,
        upstream: Upstream,
        fanout: SrsFanout,
        *,
        threshold: int,
        access_ttl_s: int,
    ) -> None:
        self.emit = emit
        self.store = store
        self.upstream = upstream
        self.fanout = fanout
        self.threshold = threshold
        self.access_ttl_s = access_ttl_s

    async def request_access(
        self, caller: Principal, token: str, body: AccessIn, *, correlation_id: str | None
    ) -> AccessOut:
        reason = body.reason
        if body.breakglass and reason is None:
            raise BreakglassNeedsReason("break-glass needs a reason")
        request_id = uuid.uuid4().hex
        asked = list(dict.fromkeys(body.segments)) if body.segments else None

        async def audit() -> None:
            try:
                await self.emit(
                    "access.requested",
                    AccessRequested(
                        request_id=request_id,
                        patient_id=body.patient_id,
                        record_id=body.record_id,
                        segments=asked or ["*"],
                        requester_id=caller.sub,
                    ),
                    subject=body.patient_id,
                    correlation_id=correlation_id,
                )
            except Exception as exc:  # noqa: BLE001 - any publishing failure: nothing asked
                log.error("access.audit_failed", error_type=type(exc).__name__)
                raise AuditUnavailable("the access request could not be recorded") from exc

        async def manifest_and_scope() -> tuple[dict[str, Any], set[str]]:
            manifest = self.upstream.signed_manifest(body.patient_id, body.record_id)
            if asked:
                return await manifest, set()
            return await _both(manifest, self._default_segments(caller, body))

        # The manifest and the caller's grants come while the event is published; the
        # nodes are asked after all three.
        _, (signed_manifest, scoped) = await _both(audit(), manifest_and_scope())
        entries = _manifest_segments(signed_manifest)
        segments = asked or sorted(scoped & set(entries)) or sorted(entries)
        request = {
            "request_id": request_id,
            "patient_id": body.patient_id,
            "record_id": body.record_id,
            "segments": segments,
            "breakglass_reason": reason,
        }
        expected = {
            "request_id": request_id,
            "patient_id": body.patient_id,
            "record_id": body.record_id,
            "requester_id": caller.sub,
        }
        results = await self.fanout.reencrypt(
            token, request, expected=expected, correlation_id=correlation_id
        )
        answers = [r for r in results if isinstance(r, NodeAnswer)]
        failures = [r for r in results if isinstance(r, NodeFailure)]
        if len(answers) < self.threshold:
            log.warning(
                "access.srs_unavailable",
                request_id=request_id,
                answered=len(answers),
                failed=[f.node_id for f in failures],
            )
            raise SrsUnavailable(
                f"{len(answers)} of {len(results)} SRS nodes answered, {self.threshold} needed; "
                f"unreachable: {', '.join(f.node_id for f in failures)}",
                unreachable=[{"node_id": f.node_id, "reason": f.reason} for f in failures],
            )
        versions = {n: int(e["key_version"]) for n, e in entries.items()}
        counted = tally(
            {a.node_id: a.body for a in answers}, segments, self.threshold, key_versions=versions
        )
        granted = {n: g for n, g in counted.granted.items() if n in entries}
        keys = {
            n: blob_key(body.patient_id, body.record_id, n, g.key_version)
            for n, g in granted.items()
        }
        urls = (
            await self.upstream.presigned_reads(list(keys.values()), self.access_ttl_s)
            if keys
            else {}
        )
        log.info(
            "access.answered",
            request_id=request_id,
            patient_id=body.patient_id,
            record_id=body.record_id,
            granted=sorted(granted),
            denied=[d["segment"] for d in counted.denied],
            nodes_answered=len(answers),
            breakglass=counted.breakglass is not None,
        )
        return AccessOut(
            request_id=request_id,
            patient_id=body.patient_id,
            record_id=body.record_id,
            requester_id=caller.sub,
            expires_at=_now() + timedelta(seconds=self.access_ttl_s),
            signed_manifest=signed_manifest if granted else None,
            segments={
                n: GrantedSegment(
                    key_version=g.key_version,
                    grant_id=g.grant_id,
                    threshold=g.threshold,
                    breakglass=g.breakglass,
                    url=urls[keys[n]],
                )
                for n, g in sorted(granted.items())
            },
            denied=counted.denied,
            breakglass=counted.breakglass,
            nodes={r.node_id: _node_state(r) for r in results},
            node_answers=[a.body for a in answers],
        )

    async def _default_segments(self, caller: Principal, body: AccessIn) -> set[str]:
        """The segments the caller holds usable grants for (emergency ones with a reason)."""
        grants = await self.store.grants_for(caller, body.patient_id)
        scope = scope_for(
            caller,
            grants,
            now=_now(),
            patient_id=body.patient_id,
            include_emergency=body.reason is not None,
        )
        return scope.segments(body.patient_id)

"""Access to a record's segments for a data user: manifest, SRS fan-out, ciphertext.

Flow of ``POST /v1/access`` (:meth:`AccessService.request_access`):

1. A break-glass request without a reason is refused (422) before anything else.
2. ``access.requested`` is published (subject: the patient) while the signed manifest
   is fetched from owner-api; if the event cannot be published nothing is asked.
3. All N SRS nodes are asked at once with the caller's own token
   (:mod:`user_api.fanout`); fewer than t verified answers -> 503 naming the others.
4. Per segment, t cfrags on one grant -> granted, else denied with the nodes' reasons.
5. The request is stored: its caller may then stream the granted segments'
   ciphertext from cloud-store for ``access_ttl_s`` seconds, nobody else ever.

user-api never holds a key: it forwards cfrags and ciphertext; the reader's SDK
verifies node signatures, cfrags and the ciphertext's SHA-256 against the manifest.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from phr.api.ids import blob_key
from phr.events.access import AccessRequested
from phr.identity.tokens import Principal
from phr.service.runtime import ServiceRuntime
from user_api.errors import (
    AccessExpired,
    AccessRequestNotFound,
    AuditUnavailable,
    BreakglassNeedsReason,
    NotYourRequest,
    SegmentNotGranted,
    SrsUnavailable,
)
from user_api.fanout import NodeAnswer, NodeFailure, SrsFanout, combine
from user_api.grants import as_utc
from user_api.models import AccessIn, AccessOut, CfragOut, GrantedSegment
from user_api.store import MongoStore
from user_api.upstream import BlobStream, Upstream

log = structlog.get_logger("user_api.access")
A = TypeVar("A")
B = TypeVar("B")


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
        runtime: ServiceRuntime,
        store: MongoStore,
        upstream: Upstream,
        fanout: SrsFanout,
        *,
        threshold: int,
        access_ttl_s: int,
        retention_s: int,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.upstream = upstream
        self.fanout = fanout
        self.threshold = threshold
        self.access_ttl_s = access_ttl_s
        self.retention_s = retention_s

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
                await self.runtime.emit(
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

        # The manifest comes while the event is published; the nodes are asked after both.
        _, signed_manifest = await _both(
            audit(), self.upstream.signed_manifest(body.patient_id, body.record_id)
        )
        entries = _manifest_segments(signed_manifest)
        segments = asked or sorted(entries)
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
        combined = combine(answers, segments, self.threshold)
        now = _now()
        expires_at = now + timedelta(seconds=self.access_ttl_s)
        granted: dict[str, GrantedSegment] = {}
        stored: dict[str, dict[str, Any]] = {}
        for name, outcome in combined.granted.items():
            entry = entries.get(name)
            if entry is None:
                continue  # the nodes know a segment the manifest does not: serve nothing
            key_version = int(entry["key_version"])
            granted[name] = GrantedSegment(
                key_version=key_version,
                grant_id=outcome.grant_id,
                threshold=outcome.threshold,
                breakglass=outcome.breakglass,
                cfrags=[
                    CfragOut(
                        node_id=c["node_id"],
                        cfrag=c["cfrag"],
                        signed_grant=c["signed_grant"],
                        grant_id=c["grant_id"],
                        key_version=c["key_version"],
                        breakglass=bool(c.get("breakglass", False)),
                    )
                    for c in outcome.cfrags
                ],
                download=f"/v1/access/{request_id}/segments/{name}",
            )
            stored[name] = {"key_version": key_version, "sha256": entry.get("sha256")}
        await self.store.put_request(
            {
                "_id": request_id,
                "requester_id": caller.sub,
                "patient_id": body.patient_id,
                "record_id": body.record_id,
                "segments": stored,
                "breakglass": combined.breakglass is not None,
                "created_at": now,
                "expires_at": expires_at,
                "purge_at": now + timedelta(seconds=self.retention_s),
            }
        )
        log.info(
            "access.answered",
            request_id=request_id,
            patient_id=body.patient_id,
            record_id=body.record_id,
            granted=sorted(granted),
            denied=[d["segment"] for d in combined.denied],
            nodes_answered=len(answers),
            breakglass=combined.breakglass is not None,
        )
        return AccessOut(
            request_id=request_id,
            patient_id=body.patient_id,
            record_id=body.record_id,
            requester_id=caller.sub,
            expires_at=expires_at,
            signed_manifest=signed_manifest,
            segments=granted,
            denied=combined.denied,
            breakglass=combined.breakglass,
            nodes={r.node_id: _node_state(r) for r in results},
            node_answers=[a.body for a in answers],
        )

    async def open_segment(self, caller: Principal, request_id: str, segment: str) -> BlobStream:
        """The ciphertext of a segment this caller's request obtained, while still valid."""
        doc = await self.store.get_request(request_id)
        if doc is None:
            raise AccessRequestNotFound(f"no access request {request_id}")
        if doc["requester_id"] != caller.sub:
            raise NotYourRequest("this access request belongs to another user")
        expires_at = as_utc(doc["expires_at"])
        if expires_at is None or _now() >= expires_at:
            raise AccessExpired("this access has expired; request access again")
        granted = doc.get("segments", {}).get(segment)
        if granted is None:
            raise SegmentNotGranted(f"segment {segment} was not granted to this request")
        key = blob_key(doc["patient_id"], doc["record_id"], segment, int(granted["key_version"]))
        return await self.upstream.open_blob(key)

"""Answer a re-encryption request: decide per segment, re-encrypt, sign, audit.

Trust (why a node may do this and still learn nothing):

- A node holds one kfrag of a t-of-N split (default 2 of 3), sealed to its own X25519
  key. One cfrag is useless to anyone: the grantee needs ``threshold`` cfrags from
  distinct nodes, so one node alone can re-encrypt nothing.
- Re-encryption transforms the record's *capsule* for the grantee's Umbral key. The
  data key inside it is never formed here: the SRS never learns a data key.
- Even ``t`` colluding nodes only obtain what the grantee would: a capsule opened to
  the *grantee's* public key. Reading data still needs the grantee's secret key and the
  ciphertext (which lives in cloud-store, not here). Keys are per segment and version,
  so a `labs` grant opens nothing of `insurance`.
- The capsule re-encrypted is the one owner-api announced in ``record.uploaded``, never
  one the requester brings, so a grant cannot be pointed at another record's key.
- Group grants (a role/org/dept selector) admit a caller by the attributes in his
  KGC-signed token: the KGC is trusted for identity and attributes. The cfrags are
  still made for the grant's receiving key (the group key named in the signed grant
  document), so a caller without that secret key gains nothing.

Each response is signed with the node's Ed25519 key (the registry's ``ed25519_public``
of this node) over RFC 8785 JSON of the body without ``node_signature``, so the reader
can tell which node answered what. The decision is published before the answer
leaves, as one ``access.decided`` per request listing every segment granted (with its
grant) or denied (with the reason), plus one ``access.breakglass`` when segments were
served under an emergency grant (the patient's review flag); if the events cannot be
published, no cfrag is given out (503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from phr.api.srs import (
    BreakglassInfo,
    ReencryptRequest,
    ReencryptResponse,
    SegmentCfrag,
    SegmentDenied,
)
from phr.crypto.errors import CryptoError
from phr.crypto.pre import reencrypt_verified
from phr.crypto.signing import SigningKey, b64u_encode
from phr.events.access import AccessBreakglass, AccessDecided, SegmentGranted, SegmentRefused
from phr.events.base import EventData
from phr.service.metrics import SRS_DECISIONS
from srs import acl
from srs.cache import ReadCache
from srs.errors import AuditUnavailable, TooManySegments
from srs.models import SegmentCapsule
from srs.store import Store
from srs.verification import NodeIdentity

log = structlog.get_logger("srs.reencrypt")

#: publishes one access event (type, data, subject, correlation id)
Emit = Callable[[str, EventData, str, str | None], Awaitable[Any]]


def _now() -> datetime:
    return datetime.now(UTC)


def sign_response(body: ReencryptResponse, key: SigningKey) -> ReencryptResponse:
    """The body with ``node_signature`` over its canonical JSON (signature excluded)."""
    payload = body.model_dump(mode="json", exclude={"node_signature"})
    return body.model_copy(update={"node_signature": b64u_encode(key.sign_json(payload))})


@dataclass
class Reencryptor:
    store: Store
    node: NodeIdentity
    signing_key: SigningKey
    emit: Emit
    #: the store's reads, cached until the next applied event (main wires the consumer's
    #: after-commit hook to ``reads.invalidate``)
    reads: ReadCache
    breakglass_window_s: int = 900
    max_segments: int = 32
    clock: Callable[[], datetime] = _now

    async def answer(
        self, caller: acl.Caller, request: ReencryptRequest, *, correlation_id: str | None = None
    ) -> ReencryptResponse:
        segments = list(dict.fromkeys(request.segments))
        if len(segments) > self.max_segments:
            raise TooManySegments(f"at most {self.max_segments} segments per request")
        now = self.clock()
        reads = self.reads
        user = await reads.get_user(caller.user_id)
        if user is not None and user.revoked and not caller.revoked:
            caller = acl.Caller(caller.user_id, caller.role, caller.org, caller.dept, True)
        record = await reads.get_record(request.patient_id, request.record_id)
        grants = await reads.grants_for_patient(request.patient_id)
        reason = (request.breakglass_reason or "").strip() or None

        granted: list[SegmentCfrag] = []
        denied: list[SegmentDenied] = []
        for segment in segments:
            decision = acl.decide_segment(
                caller=caller,
                patient_id=request.patient_id,
                record=record,
                segment=segment,
                grants=grants,
                now=now,
                breakglass_reason=reason,
            )
            if isinstance(decision, acl.Allowed) and record is not None:
                outcome = await self._reencrypt(
                    request.patient_id, decision, record.segment(segment)
                )
            else:
                assert isinstance(decision, acl.Denied)
                outcome = decision
            if isinstance(outcome, SegmentCfrag):
                granted.append(outcome)
            else:
                denied.append(
                    SegmentDenied(segment=segment, reason=outcome.reason, node_id=self.node.node_id)
                )

        breakglass: BreakglassInfo | None = None
        emergency = [g.segment for g in granted if g.breakglass]
        if emergency and reason:
            opened = await self.store.breakglass_opened_at(caller.user_id, request.patient_id)
            window = acl.breakglass_window(opened, now=now, window_s=self.breakglass_window_s)
            if window.new:
                await self.store.open_breakglass(
                    caller.user_id, request.patient_id, window.opened_at, reason
                )
            breakglass = BreakglassInfo(
                reason=reason, segments=emergency, expires_in_s=window.expires_in_s
            )

        body = sign_response(
            ReencryptResponse(
                node_id=self.node.node_id,
                request_id=request.request_id,
                patient_id=request.patient_id,
                record_id=request.record_id,
                requester_id=caller.user_id,
                issued_at=now.isoformat().replace("+00:00", "Z"),
                granted=granted,
                denied=denied,
                breakglass=breakglass,
            ),
            self.signing_key,
        )
        await self._audit(caller, request, body, correlation_id)
        log.info(
            "reencrypt.answered",
            request_id=request.request_id,
            patient_id=request.patient_id,
            record_id=request.record_id,
            granted=[g.segment for g in granted],
            denied=[(d.segment, d.reason) for d in denied],
            breakglass=bool(breakglass),
        )
        return body

    async def _reencrypt(
        self, patient_id: str, decision: acl.Allowed, capsule: SegmentCapsule | None
    ) -> SegmentCfrag | acl.Denied:
        try:
            ready = await self.reads.ready_grant(
                patient_id, decision.grant_id, decision.segment, decision.key_version
            )
            if ready is None or capsule is None:
                # Revoked between the decision and now: its kfrags are gone.
                return acl.Denied(decision.segment, acl.GRANT_REVOKED)
            cfrag = reencrypt_verified(self.reads.capsule(capsule.capsule), ready.kfrag)
        except (CryptoError, ValueError, KeyError) as exc:
            log.error(
                "reencrypt.failed",
                grant_id=decision.grant_id,
                segment=decision.segment,
                error_type=type(exc).__name__,
            )
            return acl.Denied(decision.segment, acl.REENCRYPTION_FAILED)
        return SegmentCfrag(
            segment=decision.segment,
            grant_id=decision.grant_id,
            key_version=decision.key_version,
            cfrag=b64u_encode(cfrag),
            signed_grant=ready.key_grant.signed_grant,
            node_id=self.node.node_id,
            breakglass=decision.breakglass,
        )

    async def _audit(
        self,
        caller: acl.Caller,
        request: ReencryptRequest,
        body: ReencryptResponse,
        correlation_id: str | None,
    ) -> None:
        """Publish the decision (one ``access.decided`` for every segment of the request,
        plus ``access.breakglass`` for an emergency); raise AuditUnavailable (no cfrags
        out) if one fails."""
        node_id = self.node.node_id
        events: list[tuple[str, EventData]] = [
            (
                "access.decided",
                AccessDecided(
                    request_id=request.request_id,
                    patient_id=request.patient_id,
                    record_id=request.record_id,
                    requester_id=caller.user_id,
                    node_id=node_id,
                    granted=[
                        SegmentGranted(
                            segment=g.segment, grant_id=g.grant_id, breakglass=g.breakglass
                        )
                        for g in body.granted
                    ],
                    denied=[
                        SegmentRefused(segment=d.segment, reason=d.reason) for d in body.denied
                    ],
                ),
            )
        ]
        if body.breakglass is not None:
            events.append(
                (
                    "access.breakglass",
                    AccessBreakglass(
                        request_id=request.request_id,
                        patient_id=request.patient_id,
                        record_id=request.record_id,
                        requester_id=caller.user_id,
                        segments=body.breakglass.segments,
                        reason=body.breakglass.reason,
                        expires_in_s=body.breakglass.expires_in_s,
                        node_id=node_id,
                    ),
                )
            )
        for g in body.granted:
            SRS_DECISIONS.labels("breakglass" if g.breakglass else "granted", "").inc()
        for d in body.denied:
            SRS_DECISIONS.labels("denied", d.reason).inc()
        results = await asyncio.gather(
            *(self.emit(t, data, request.patient_id, correlation_id) for t, data in events),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            log.error(
                "reencrypt.audit_failed",
                request_id=request.request_id,
                failed=len(failures),
                error_type=type(failures[0]).__name__,
            )
            raise AuditUnavailable("access events could not be recorded; try again")

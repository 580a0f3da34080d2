"""What a replay produced: per type sent, accepted and rejected (with reasons), and the
ledger reached against the capture's source checkpoint.

``sent`` counts the capture's events on the event topics (the copies on the ledger's
sequence topic are not events of their own). ``rejected`` comes from the target's
dead-letter topic, where each ledger replica publishes every record it refused with
its reason (one entry per event id, whichever replica refused it). ``accepted`` is
sent minus rejected. The ledger's size and root are read from the target ledger's
public checkpoint, verified under the ledger key of the capture's parameters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from phr.capture.format import Capture, CapturedRecord
from phr.capture.verify import capture_params
from phr.crypto.signing import VerifyKey
from phr.events.catalog import TOPICS
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.ledger.checkpoint import Checkpoint, CheckpointInvalid, parse_checkpoint
from phr.ledger.verify import LedgerVerificationError, verify_consistency
from phr.ledger.wire import ConsistencyProofOut


@dataclass
class ReplayReport:
    sent: Counter[str] = field(default_factory=Counter)
    rejected: dict[str, Counter[str]] = field(default_factory=dict)
    ledger: Checkpoint | None = None
    source: Checkpoint | None = None
    #: the target's tree extends the source's (a verified consistency proof), when larger
    extends_source: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def matches_source(self) -> bool | None:
        """Equal to the source checkpoint, or a verified extension of it."""
        if self.ledger is None or self.source is None:
            return None
        if (self.ledger.size, self.ledger.root_hash) == (self.source.size, self.source.root_hash):
            return True
        return bool(self.extends_source)

    def to_json(self) -> dict[str, Any]:
        types = sorted(set(self.sent) | set(self.rejected))
        rows = []
        for t in types:
            rejected = sum(self.rejected.get(t, Counter()).values())
            rows.append(
                {
                    "type": t,
                    "sent": self.sent[t],
                    "accepted": self.sent[t] - rejected,
                    "rejected": rejected,
                    "reasons": dict(self.rejected.get(t, Counter())),
                }
            )

        def cp(c: Checkpoint | None) -> dict[str, Any] | None:
            return None if c is None else {"size": c.size, "root": c.root_hash.hex()}

        return {
            "types": rows,
            "ledger": cp(self.ledger),
            "source_checkpoint": cp(self.source),
            "matches_source": self.matches_source,
            "extends_source": self.extends_source,
            "notes": self.notes,
        }


def sent_counts(records: list[CapturedRecord]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for rec in records:
        if rec.topic not in TOPICS:
            continue
        try:
            counts[Envelope.from_json_bytes(rec.value_bytes or b"").type] += 1
        except (EnvelopeInvalid, ValueError):
            counts["(not an event)"] += 1
    return counts


def rejected_counts(deadletter: list[CapturedRecord]) -> dict[str, Counter[str]]:
    seen: set[str] = set()
    out: dict[str, Counter[str]] = {}
    for rec in deadletter:
        headers = dict(rec.header_pairs())
        reason = headers.get("phr-reason", b"unknown").decode(errors="replace")
        try:
            event = Envelope.from_json_bytes(rec.value_bytes or b"")
            key, type = str(event.id), event.type
        except (EnvelopeInvalid, ValueError):
            key, type = f"{rec.partition}/{rec.offset}", "(not an event)"
        if key in seen:
            continue
        seen.add(key)
        out.setdefault(type, Counter())[reason] += 1
    return out


async def ledger_checkpoint(
    url: str, origin: str, key: VerifyKey, http: httpx.AsyncClient
) -> Checkpoint:
    resp = await http.get(f"{url.rstrip('/')}/v1/checkpoint")
    resp.raise_for_status()
    return parse_checkpoint(resp.text, origin, key)


async def extends(url: str, old: Checkpoint, new: Checkpoint, http: httpx.AsyncClient) -> bool:
    """True if a consistency proof from the target shows ``new`` extends ``old``."""
    if new.size <= old.size:
        return False
    resp = await http.get(
        f"{url.rstrip('/')}/v1/proofs/consistency", params={"first": old.size, "second": new.size}
    )
    resp.raise_for_status()
    try:
        verify_consistency(ConsistencyProofOut.model_validate(resp.json()), old, new)
    except LedgerVerificationError:
        return False
    return True


def source_checkpoint(capture: Capture) -> Checkpoint | None:
    """The capture's source checkpoint, verified under the parameters' ledger key."""
    header = capture.header
    if not header.checkpoint or not header.ledger_origin:
        return None
    params = capture_params(capture)
    if params.ledger is None:
        return None
    try:
        return parse_checkpoint(
            header.checkpoint,
            header.ledger_origin,
            VerifyKey.from_b64(params.ledger.ed25519_public),
        )
    except CheckpointInvalid:
        return None

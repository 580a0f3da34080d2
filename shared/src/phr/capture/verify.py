"""Verify a capture on its own: the parameters, every signature, ids once, partition order.

- The header's system parameters must carry a valid KGC signature (pinned to a KGC key
  the caller names, or to the key the document itself names: trust on first use).
- Every record of an event topic must be an envelope (current or pre-CloudEvents
  spelling) signed by the key the parameters publish for its ``source``.
- Every event id appears once on the event topics (the ledger's sequence topic holds
  copies of them, each of which must have its original in a whole capture, a relay
  restart may copy one twice, which is reported, not refused; and the ledger's own
  cut markers, which travel on the sequence topic only).
- Offsets increase within each partition, and a record sits on the partition its topic
  had room for.

Dead-lettered records are counted and not verified: they are there because a ledger
refused them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from phr.capture.format import Capture
from phr.crypto.signing import VerifyKey
from phr.events.catalog import TOPIC_DEADLETTER, TOPICS
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.identity.params import ParamsInvalid, ParamsPin, SystemParams, verify_params

SEQUENCE_TOPIC = "phr.ledger.sequence"
#: the ledger's block-cut markers, which only ever travel on the sequence topic
CUT_TYPE = "ledger.cut"


@dataclass
class CaptureVerdict:
    """What :func:`verify_capture` found. ``ok`` only with no problem at all."""

    records: int = 0
    events: Counter[str] = field(default_factory=Counter)
    sequence_copies: int = 0
    sequence_duplicates: int = 0
    #: the same event, byte for byte, published again (an at-least-once retry of a
    #: producer's outbox): counted, never a problem; consumers apply it once
    redelivered: int = 0
    deadlettered: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "events": dict(sorted(self.events.items())),
            "sequence_copies": self.sequence_copies,
            "sequence_duplicates": self.sequence_duplicates,
            "redelivered": self.redelivered,
            "deadlettered": self.deadlettered,
            "problems": self.problems,
        }


def producer_keys(params: SystemParams) -> dict[str, tuple[VerifyKey, frozenset[str]]]:
    """fingerprint -> (key, the process names that sign with it), from the parameters."""
    names: dict[str, set[str]] = {}
    keys: dict[str, VerifyKey] = {}
    published = {**params.services, "kgc": params.kgc}
    if params.ledger is not None:
        published.setdefault("ledger", params.ledger)
    for name, pk in published.items():
        key = VerifyKey.from_b64(pk.ed25519_public)
        keys[key.fingerprint()] = key
        names.setdefault(key.fingerprint(), set()).add(name)
    for node in params.srs.nodes:
        key = VerifyKey.from_b64(node.ed25519_public)
        keys[key.fingerprint()] = key
        names.setdefault(key.fingerprint(), set()).add(node.id)
    return {fp: (keys[fp], frozenset(n)) for fp, n in names.items()}


def capture_params(
    capture: Capture, params: dict[str, Any] | None = None, kgc_key: str | None = None
) -> SystemParams:
    """The verified parameters of a capture (``params`` overrides the header's)."""
    document = params or capture.header.params
    if document is None:
        raise ParamsInvalid("the capture carries no system parameters (give --params)")
    pin = ParamsPin(kgc_public=kgc_key) if kgc_key else None
    verified, _ = verify_params(document, pin)
    return verified


def verify_capture(
    capture: Capture, params: dict[str, Any] | None = None, kgc_key: str | None = None
) -> CaptureVerdict:
    verdict = CaptureVerdict(records=len(capture.records))
    try:
        keys = producer_keys(capture_params(capture, params, kgc_key))
    except (ParamsInvalid, ValueError) as exc:
        verdict.problems.append(f"system parameters: {exc}")
        return verdict
    last: dict[tuple[str, int], int] = {}
    originals: dict[str, bytes] = {}
    copies: Counter[str] = Counter()
    copy_bytes: dict[str, set[bytes]] = {}
    for rec in capture.records:
        where = f"{rec.topic}/{rec.partition}/{rec.offset}"
        tp = (rec.topic, rec.partition)
        if rec.offset <= last.get(tp, -1):
            verdict.problems.append(f"{where}: offset out of order")
        last[tp] = rec.offset
        if rec.partition >= capture.header.partitions.get(rec.topic, 0):
            verdict.problems.append(f"{where}: partition beyond the topic's count")
        if rec.topic == TOPIC_DEADLETTER:
            verdict.deadlettered += 1
            continue
        if rec.topic not in TOPICS and rec.topic != SEQUENCE_TOPIC:
            verdict.problems.append(f"{where}: not a topic of the system")
            continue
        raw = rec.value_bytes or b""
        problem = _check_event(raw, keys)
        if isinstance(problem, str):
            verdict.problems.append(f"{where}: {problem}")
            continue
        eid = str(problem.id)
        if rec.topic == SEQUENCE_TOPIC and problem.type == CUT_TYPE:
            # The ledger writes its cut markers straight into the sequence topic.
            verdict.sequence_copies += 1
            if eid in originals:
                verdict.problems.append(f"{where}: cut marker {eid} appears twice")
            originals[eid] = raw
            verdict.events[problem.type] += 1
            continue
        if rec.topic == SEQUENCE_TOPIC:
            verdict.sequence_copies += 1
            copies[eid] += 1
            copy_bytes.setdefault(eid, set()).add(raw)
            continue
        if eid in originals:
            if originals[eid] == raw:
                verdict.redelivered += 1
            else:
                verdict.problems.append(f"{where}: event {eid} appears twice, other bytes")
            continue
        originals[eid] = raw
        verdict.events[problem.type] += 1
    verdict.sequence_duplicates = sum(n - 1 for n in copies.values() if n > 1)
    for eid, raws in copy_bytes.items():
        if eid in originals and raws != {originals[eid]}:
            verdict.problems.append(f"{SEQUENCE_TOPIC}: a copy of {eid} differs from it")
    if capture.header.filters.since is None and capture.header.filters.from_offset is None:
        # A whole capture: every copy on the sequence topic has its original.
        for eid in copies:
            if eid not in originals:
                verdict.problems.append(f"{SEQUENCE_TOPIC}: copy of {eid} without an original")
    return verdict


def _check_event(raw: bytes, keys: dict[str, tuple[VerifyKey, frozenset[str]]]) -> Envelope | str:
    """The verified envelope, or what is wrong with it."""
    try:
        event = Envelope.from_json_bytes(raw)
    except (EnvelopeInvalid, ValueError) as exc:
        return f"not an event envelope ({str(exc)[:120]})"
    entry = keys.get(event.signer)
    if entry is None:
        return f"event {event.id} signed by a key the parameters do not publish"
    key, names = entry
    if event.source not in names:
        return f"event {event.id} claims source {event.source!r}, signed by {sorted(names)}"
    try:
        event.verify(key)
    except EnvelopeInvalid:
        return f"event {event.id}: bad signature"
    return event

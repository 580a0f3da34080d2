"""Intake: parse and verify each record of the sequence topic into a :class:`Verdict`.

Pure and deterministic: the verdict depends only on the record's bytes and the key set,
so every replica decides the same. Runs in worker processes when ``verify_workers`` > 0
(Ed25519 verification, ~60 us, dominates the ledger's CPU; ``cryptography`` has no batch
verification, so throughput scales with cores, not with threads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phr.crypto.canonical import canonical_json
from phr.crypto.signing import b64u_decode
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.ledger.block import to_micros

#: fingerprint -> (raw Ed25519 key, names allowed as ``source``)
KeyTable = dict[str, tuple[bytes, tuple[str, ...]]]
CUT_TYPE = "ledger.cut"


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: Literal["event", "cut", "rejected"]
    reason: str = ""
    event_id: str = ""
    subject: str = ""
    type: str = ""
    time_us: int = 0
    #: canonical JSON of the envelope: the Merkle leaf
    leaf: bytes = b""
    #: for a cut marker: the height it cuts
    cut_height: int = -1


class RecordChecker:
    """Verifies records against one key set; ``ledger_fingerprint`` may write cut markers."""

    def __init__(self, keys: KeyTable, ledger_fingerprint: str) -> None:
        self.keys = keys
        self.ledger_fingerprint = ledger_fingerprint
        self._public: dict[str, Ed25519PublicKey] = {}

    def check(self, raw: bytes) -> Verdict:
        try:
            event = Envelope.from_json_bytes(raw)
        except EnvelopeInvalid as exc:
            return Verdict("rejected", reason=str(exc)[:300])
        entry = self.keys.get(event.signer)
        if entry is None:
            return Verdict("rejected", reason="unknown producer key", event_id=str(event.id))
        raw_key, names = entry
        if event.source not in names:
            return Verdict(
                "rejected", reason=f"key not registered for {event.source}", event_id=str(event.id)
            )
        full = event.model_dump(mode="json")
        leaf = canonical_json(full)
        # RFC 8785 sorts members, and string escaping leaves no bare quote inside values,
        # so the signed payload (every member but "signature") is the leaf without its
        # top-level signature member; the last match is the top-level one ("signer",
        # "source"... sort after it and cannot hold it). Saves a second canonicalisation.
        member = b',"signature":"' + event.signature.encode() + b'"'
        cut = leaf.rfind(member)
        if cut < 0:
            return Verdict("rejected", reason="no signature", event_id=str(event.id))
        payload = leaf[:cut] + leaf[cut + len(member) :]
        try:
            pub = self._public.get(event.signer)
            if pub is None:
                pub = self._public[event.signer] = Ed25519PublicKey.from_public_bytes(raw_key)
            pub.verify(b64u_decode(event.signature), payload)
        except (InvalidSignature, ValueError):
            return Verdict("rejected", reason="bad signature", event_id=str(event.id))
        if event.type == CUT_TYPE:
            if event.signer != self.ledger_fingerprint:
                return Verdict("rejected", reason="cut marker not signed by the ledger")
            try:
                height = int(event.data["sequence"])
            except (KeyError, TypeError, ValueError):
                return Verdict("rejected", reason="malformed cut marker")
            return Verdict("cut", event_id=str(event.id), cut_height=height)
        return Verdict(
            "event",
            event_id=str(event.id),
            subject=event.subject,
            type=event.type,
            time_us=to_micros(event.time),
            leaf=leaf,
        )

    def check_many(self, raws: Sequence[bytes]) -> list[Verdict]:
        return [self.check(r) for r in raws]


_worker: RecordChecker | None = None


def _init_worker(keys: KeyTable, ledger_fingerprint: str) -> None:
    global _worker
    _worker = RecordChecker(keys, ledger_fingerprint)


def _check_in_worker(raws: list[bytes]) -> list[Verdict]:
    assert _worker is not None, "worker not initialised"
    return _worker.check_many(raws)


class Intake:
    """Checks batches in order, in this process or spread over a process pool."""

    def __init__(self, keys: KeyTable, ledger_fingerprint: str, workers: int = 0) -> None:
        self.local = RecordChecker(keys, ledger_fingerprint)
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self.pool = ProcessPoolExecutor(
                workers, initializer=_init_worker, initargs=(keys, ledger_fingerprint)
            )

    async def check(self, raws: list[bytes]) -> list[Verdict]:
        if self.pool is None or len(raws) < 64:
            return self.local.check_many(raws)
        loop = asyncio.get_running_loop()
        step = -(-len(raws) // self.workers)
        parts = [raws[i : i + step] for i in range(0, len(raws), step)]
        results = await asyncio.gather(
            *(loop.run_in_executor(self.pool, partial(_check_in_worker, p)) for p in parts)
        )
        return [v for part in results for v in part]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

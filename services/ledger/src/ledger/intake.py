"""Intake: parse and verify each record of the sequence topic into a :class:`Verdict`.

Pure and deterministic: the verdict depends only on the record's bytes and the key set,
so every replica decides the same. Runs in worker processes when ``verify_workers`` > 0
(Ed25519 verification, 60-90 us of CPU per event, dominates the ledger's CPU;
``cryptography`` has no batch verification, so throughput scales with cores, not with
threads). Everything else per event is kept small: envelopes in their producers'
spelling are read with orjson instead of the model, the leaf is serialised once and the
signed payload cut out of it, verdicts travel back from the workers as plain tuples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phr.crypto.canonical import canonical_json, plain_canonical_json
from phr.crypto.signing import b64u_decode
from phr.events.envelope import Envelope, EnvelopeInvalid
from phr.events.wire_form import read_wire_form
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

    def __reduce__(self) -> tuple[Callable[..., Verdict], tuple[Any, ...]]:
        # A plain tuple of fields: pickles (to and from the verifier processes) several
        # times quicker than the default state of a slotted dataclass.
        return Verdict, (
            self.kind,
            self.reason,
            self.event_id,
            self.subject,
            self.type,
            self.time_us,
            self.leaf,
            self.cut_height,
        )


class RecordChecker:
    """Verifies records against one key set; ``ledger_fingerprint`` may write cut markers."""

    def __init__(self, keys: KeyTable, ledger_fingerprint: str) -> None:
        self.keys = keys
        self.ledger_fingerprint = ledger_fingerprint
        self._public: dict[str, Ed25519PublicKey] = {}

    def check(self, raw: bytes) -> Verdict:
        # Envelopes in the form their producer wrote are read without the model (same
        # verdict, same leaf: see read_wire_form); anything else goes through the model.
        wire = read_wire_form(raw)
        if wire is not None:
            form = wire.json
            return self._decide(
                form, lambda: plain_canonical_json(form), lambda: to_micros(wire.time)
            )
        try:
            event = Envelope.from_json_bytes(raw)
        except EnvelopeInvalid as exc:
            return Verdict("rejected", reason=str(exc)[:300])
        # the producer's spelling (a legacy envelope keeps its old names): the leaf of
        # an event chained before the CloudEvents names is byte for byte what it was
        full = event.wire_json()
        fields = {**full, "data": event.data}
        return self._decide(fields, lambda: canonical_json(full), lambda: to_micros(event.time))

    def _decide(
        self, event: dict[str, Any], leaf_of: Callable[[], bytes], time_of: Callable[[], int]
    ) -> Verdict:
        """The verdict on an envelope given as its JSON form (``data`` as validated)."""
        event_id: str = event["id"]
        signer: str = event["signer"]
        signature: str = event["signature"]
        entry = self.keys.get(signer)
        if entry is None:
            return Verdict("rejected", reason="unknown producer key", event_id=event_id)
        raw_key, names = entry
        if event["source"] not in names:
            return Verdict(
                "rejected", reason=f"key not registered for {event['source']}", event_id=event_id
            )
        try:
            leaf = leaf_of()
        except ValueError as exc:  # JCS refuses it (an integer beyond 2**53, a NaN...)
            return Verdict("rejected", reason=f"not canonical JSON: {exc}"[:300], event_id=event_id)
        # RFC 8785 sorts members, and string escaping leaves no bare quote inside values,
        # so the signed payload (every member but "signature") is the leaf without its
        # top-level signature member; the last match is the top-level one ("signer",
        # "source"... sort after it and cannot hold it). Saves a second canonicalisation.
        member = b',"signature":"' + signature.encode() + b'"'
        cut = leaf.rfind(member)
        if cut < 0:
            return Verdict("rejected", reason="no signature", event_id=event_id)
        payload = leaf[:cut] + leaf[cut + len(member) :]
        try:
            pub = self._public.get(signer)
            if pub is None:
                pub = self._public[signer] = Ed25519PublicKey.from_public_bytes(raw_key)
            pub.verify(b64u_decode(signature), payload)
        except (InvalidSignature, ValueError):
            return Verdict("rejected", reason="bad signature", event_id=event_id)
        if event["type"] == CUT_TYPE:
            if signer != self.ledger_fingerprint:
                return Verdict("rejected", reason="cut marker not signed by the ledger")
            try:
                height = int(event["data"]["sequence"])
            except (KeyError, TypeError, ValueError):
                return Verdict("rejected", reason="malformed cut marker")
            return Verdict("cut", event_id=event_id, cut_height=height)
        return Verdict(
            "event",
            event_id=event_id,
            subject=event["subject"],
            type=event["type"],
            time_us=time_of(),
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

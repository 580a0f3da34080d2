"""Intake: the model-free reading gives the verdicts and leaves of the model's; the chain
built from a fixed stream is byte for byte the one of before (a pinned digest).

The pinned stream is in the legacy spelling (``schema_version``, ``correlation_id``...),
as every event chained before the CloudEvents names: their leaves must not change. The
same checks run over a stream in the current spelling, minus the pinned digest."""

from __future__ import annotations

import hashlib
import json
import pickle
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger import intake as intake_module
from ledger.intake import Intake, RecordChecker, Verdict
from ledger.keys import StaticProducerKeys
from ledger.sequencer import SeqRecord, Sequencer
from ledger.store import MemoryStore
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event
from phr.events.legacy import legacy_event
from phr.events.wire_form import read_wire_form

from .conftest import SIGNER, T0
from .conftest import cut as _cut

PRODUCER = SigningKey.from_seed(b"p" * 32)
STRANGER = SigningKey.from_seed(b"s" * 32)


def table() -> dict[str, tuple[bytes, tuple[str, ...]]]:
    k = StaticProducerKeys()
    k.add(PRODUCER.verify_key, "owner-api")
    k.add(SIGNER.public, "ledger")
    return k.as_table()


def event(i: int, key: SigningKey = PRODUCER, source: str = "owner-api", **kw: Any) -> Envelope:
    """Event ``i`` of the pinned stream, in the legacy spelling."""
    args: dict[str, Any] = {
        "key": key,
        "source": source,
        "type": "record.deleted",
        "schema_version": 1,
        "subject": f"patient-{i % 5}",
        "data": {"record_id": f"r{i}", "n": i, "tags": ["a", None, True]},
        "id": UUID(int=i + 1),
        "correlation_id": UUID(int=10_000 + i),
        "time": T0 + timedelta(seconds=i, microseconds=i * 7 % 3),
    }
    return legacy_event(**(args | kw))


def current(i: int, key: SigningKey = PRODUCER, source: str = "owner-api", **kw: Any) -> Envelope:
    """Event ``i`` in the current (CloudEvents) spelling."""
    args: dict[str, Any] = {
        "key": key,
        "source": source,
        "type": "record.deleted",
        "schemaversion": 1,
        "subject": f"patient-{i % 5}",
        "data": {"record_id": f"r{i}", "n": i, "tags": ["a", None, True]},
        "id": UUID(int=i + 1),
        "correlationid": f"hosp-req-{i}",
        "traceparent": f"00-{i + 1:032x}-{i + 1:016x}-01",
        "time": T0 + timedelta(seconds=i, microseconds=i * 7 % 3),
    }
    return new_event(**(args | kw))


def cut(height: int, key: SigningKey = SIGNER._key) -> Envelope:  # noqa: SLF001
    return _cut(height, key, pinned=True)  # the pinned digest needs fixed ids


def respelled(ev: Envelope) -> bytes:
    """The same signed event in another spelling: the model reads it, the fast path not."""
    wire = json.loads(ev.to_json_bytes())
    wire["time"] = ev.time.isoformat()  # "+00:00", not "Z"
    wire["id"] = wire["id"].upper()
    return json.dumps(dict(reversed(list(wire.items()))), indent=1).encode()


def stream(poison: bool = True, event: Any = event, version: str = "schema_version") -> list[bytes]:
    good = [event(i) for i in range(23)]
    vals = [e.to_json_bytes() for e in good]
    forged = json.loads(vals[2])
    forged["data"]["record_id"] = "evil"
    vals += [
        json.dumps(forged).encode(),  # bad signature
        event(30, key=STRANGER).to_json_bytes(),  # unknown key
        event(31, source="kgc").to_json_bytes(),  # key not registered for the source
        respelled(event(32)),  # valid, read by the model
        respelled(event(33, **{RENAMED_CAUSE[version]: UUID(int=5)})),
        event(34, data={"price": 1.5, "é": "x"}).to_json_bytes(),  # data JCS spells itself
        vals[5],  # a redelivery
        cut(0).to_json_bytes(),
        cut(0).to_json_bytes(),  # stale
        cut(9, key=PRODUCER).to_json_bytes(),  # not the ledger's
        b"not json",
        b'{"specversion": "1.0"}',
    ]
    if poison:
        big = json.loads(event(35).to_json_bytes())
        big[version] = 2**60  # the model accepts it; JCS cannot spell it
        vals.append(json.dumps(big).encode())
    vals += [event(i).to_json_bytes() for i in range(40, 52)]
    vals.append(cut(3).to_json_bytes())
    return vals


RENAMED_CAUSE = {"schema_version": "causation_id", "schemaversion": "causationid"}
SPELLINGS = {
    "legacy": {"event": event, "version": "schema_version"},
    "current": {"event": current, "version": "schemaversion"},
}


def model_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake_module, "read_wire_form", lambda raw: None)


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_fast_and_model_reading_give_the_same_verdicts(
    spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = stream(**SPELLINGS[spelling])
    taken = [r for r in raws if read_wire_form(r) is not None]
    assert len(taken) == 23 + 3 + 1 + 12 + 4  # producers' spelling, read without the model
    fast = RecordChecker(table(), SIGNER.public.fingerprint()).check_many(raws)
    model_only(monkeypatch)
    slow = RecordChecker(table(), SIGNER.public.fingerprint()).check_many(raws)
    assert fast == slow
    kinds = [v.kind for v in fast]
    assert kinds.count("event") == 23 + 2 + 1 + 1 + 12 and kinds.count("cut") == 3


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_an_event_jcs_cannot_spell_is_rejected_not_raised(spelling: str) -> None:
    make, version = SPELLINGS[spelling]["event"], SPELLINGS[spelling]["version"]
    big = json.loads(make(35).to_json_bytes())
    big[version] = 2**60
    verdict = RecordChecker(table(), "").check(json.dumps(big).encode())
    assert verdict.kind == "rejected" and "canonical" in verdict.reason
    assert verdict.event_id == str(UUID(int=36))


def test_verdicts_pickle_to_equal_verdicts() -> None:
    verdicts = RecordChecker(table(), SIGNER.public.fingerprint()).check_many(stream())
    assert pickle.loads(pickle.dumps(verdicts)) == verdicts
    assert {type(v) for v in pickle.loads(pickle.dumps(verdicts))} == {Verdict}


async def test_the_verifier_pool_gives_the_verdicts_of_one_process() -> None:
    raws = (stream() + stream(**SPELLINGS["current"])) * 3
    local = await Intake(table(), SIGNER.public.fingerprint()).check(raws)
    pool = Intake(table(), SIGNER.public.fingerprint(), workers=2)
    try:
        assert await pool.check(raws) == local
    finally:
        pool.close()


async def chain_digest(max_entries: int, batch: int) -> str:
    store = MemoryStore()
    seq = Sequencer(store, SIGNER, max_entries)
    await seq.load()
    checker = Intake(table(), SIGNER.public.fingerprint())
    # Without the record that made the ledger of before raise (see the test above).
    recs = [SeqRecord(i, v) for i, v in enumerate(stream(poison=False))]
    for i in range(0, len(recs), batch):
        part = recs[i : i + batch]
        await seq.apply(part, await checker.check([r.value for r in part]))
    h = hashlib.sha256()
    for _, block in sorted(store.blocks.items()):
        h.update(block.header.to_bytes() + block.signature)
    for _, entry in sorted(store.leaves.items()):
        h.update(entry.leaf)
    return h.hexdigest()


#: block headers, signatures and leaves, computed with the ledger as it was before the
#: model-free reading and the one-transaction-per-batch store (commit aede0aa)
GOLDEN_CHAIN = {
    4: "1cd772e02c7652f8d6f32d978c9d99fedaa770fc5bef066a83745ae41ad86a3d",
    8: "cf1366831ba0f3c4ba7b9b234a4dd36905b4062a93c712210bbc94cbe3acbb54",
    100: "ddd55dc808a7b643da9540a84f8ee669c058a7a0b4da6a48facfeed2d12c45e5",
}


@pytest.mark.parametrize("max_entries,batch", [(4, 1), (4, 7), (8, 100), (100, 13)])
async def test_the_chain_is_byte_for_byte_the_one_of_before(max_entries: int, batch: int) -> None:
    digest = await chain_digest(max_entries, batch)
    assert digest == GOLDEN_CHAIN[max_entries]

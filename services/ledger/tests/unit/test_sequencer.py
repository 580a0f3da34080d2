"""The sequencer over a MemoryStore: determinism, dedup, forgery, cuts, crash, tampering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

import pytest

from ledger.errors import SequencerConflict
from ledger.intake import Intake
from ledger.keys import StaticProducerKeys
from ledger.reader import LedgerReader
from ledger.sequencer import SeqRecord, Sequencer
from ledger.store import BlockWrite, Head, MemoryStore
from ledger.tree import ChunkId
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event
from phr.ledger.checkpoint import parse_checkpoint
from phr.ledger.verify import (
    LedgerVerificationError,
    verify_chain,
    verify_consistency,
    verify_inclusion,
)

from .conftest import SIGNER, T0, cut

PRODUCER = SigningKey.from_seed(b"p" * 32)
STRANGER = SigningKey.from_seed(b"s" * 32)
ORIGIN = "test/ledger"


def keys() -> StaticProducerKeys:
    k = StaticProducerKeys()
    k.add(PRODUCER.verify_key, "owner-api")
    k.add(SIGNER.public, "ledger")
    return k


def intake() -> Intake:
    return Intake(keys().as_table(), SIGNER.public.fingerprint())


def event(i: int, key: SigningKey = PRODUCER, source: str = "owner-api", **kw: object) -> Envelope:
    return new_event(
        key=key,
        source=source,
        type="record.deleted",
        schemaversion=1,
        subject=f"patient-{i % 5}",
        data={"record_id": f"r{i}"},
        id=kw.get("id", UUID(int=i + 1)),  # type: ignore[arg-type]
        time=T0 + timedelta(seconds=i),
    )


def records(values: list[bytes]) -> list[SeqRecord]:
    return [SeqRecord(i, v) for i, v in enumerate(values)]


async def run(recs: list[SeqRecord], batch: int, max_entries: int = 4) -> MemoryStore:
    store = MemoryStore()
    seq = Sequencer(store, SIGNER, max_entries)
    await seq.load()
    checker = intake()
    for i in range(0, len(recs), batch):
        part = recs[i : i + batch]
        await seq.apply(part, await checker.check([r.value for r in part]))
    return store


def stream() -> list[SeqRecord]:
    vals = [event(i).to_json_bytes() for i in range(10)]
    vals.insert(3, event(1).to_json_bytes())  # a redelivery
    vals.insert(5, cut(0).to_json_bytes())  # cuts block 0 after 4 events
    vals.insert(7, cut(0).to_json_bytes())  # stale: block 0 is cut already
    vals += [cut(2).to_json_bytes()]
    return records(vals)


def chain(store: MemoryStore) -> list[tuple[bytes, bytes]]:
    return [(b.header.to_bytes(), b.signature) for _, b in sorted(store.blocks.items())]


async def test_replicas_with_any_batching_build_identical_chains() -> None:
    recs = stream()
    a, b, c = await run(recs, 1), await run(recs, 4), await run(recs, 100)
    assert chain(a) == chain(b) == chain(c)
    assert [b.header.count for _, b in sorted(a.blocks.items())] == [4, 4, 2]
    ids = [e.event_id for _, e in sorted(a.leaves.items())]
    assert ids == [str(UUID(int=i + 1)) for i in range(10)]  # each once, in stream order


async def test_restart_at_every_point_gives_the_same_chain() -> None:
    recs = stream()
    want = chain(await run(recs, 100))
    for crash_at in range(len(recs)):
        store = MemoryStore()
        seq = Sequencer(store, SIGNER, 4)
        await seq.load()
        checker = intake()
        await seq.apply(recs[:crash_at], await checker.check([r.value for r in recs[:crash_at]]))
        # Crash: memory is lost; a new sequencer resumes from the stored head.
        seq = Sequencer(store, SIGNER, 4)
        await seq.load()
        rest = recs[seq.position :]
        await seq.apply(rest, await checker.check([r.value for r in rest]))
        assert chain(store) == want, crash_at


async def test_forged_events_are_never_included() -> None:
    good = event(1)
    forged_sig = good.model_copy(update={"data": {"record_id": "evil"}})
    unknown = event(2, key=STRANGER)
    wrong_source = event(3, source="kgc")
    fake_cut = cut(0, key=PRODUCER)
    replayed = event(4, id=good.id)  # another event reusing an included id
    vals = [good, forged_sig, unknown, wrong_source, fake_cut, replayed, cut(0)]
    recs = records([v.to_json_bytes() for v in vals] + [b"not json"])
    store = await run(recs, 3, max_entries=100)
    assert [e.event_id for e in store.leaves.values()] == [str(good.id)]
    assert json.loads(store.leaves[0].leaf)["data"] == {"record_id": "r1"}
    reasons = {r.offset: r.reason for r in store.rejections.values()}
    assert reasons[1] == "bad signature"
    assert reasons[2] == "unknown producer key"
    assert "not registered" in reasons[3]
    assert 4 in reasons and 7 in reasons
    assert 5 not in reasons  # a replayed id is a duplicate, dropped, not an error


async def reader_for(store: MemoryStore) -> LedgerReader:
    return LedgerReader(store, SIGNER, ORIGIN)


async def test_served_chain_proofs_and_checkpoint_verify_offline() -> None:
    recs = records([event(i).to_json_bytes() for i in range(37)] + [cut(9).to_json_bytes()])
    store = await run(recs, 7)
    reader = await reader_for(store)
    blocks = [await reader.block(h) for h in range(len(store.blocks))]
    state = verify_chain(blocks, SIGNER.public)
    cp = parse_checkpoint(await reader.checkpoint(), ORIGIN, SIGNER.public)
    assert (cp.size, cp.root_hash) == (37, state.log_root())
    for i in range(37):
        verify_inclusion(await reader.inclusion(str(UUID(int=i + 1))), cp)
    old = blocks[3].header
    proof = await reader.consistency(old["log_size"])
    old_cp = dataclasses.replace(cp, size=old["log_size"], root_hash=bytes.fromhex(old["log_root"]))
    verify_consistency(proof, old_cp, cp)
    trail = await reader.audit_trail("patient-2")
    assert len(trail.entries) == 7  # i % 5 == 2 for i < 37
    for p in trail.entries:
        verify_inclusion(p, parse_checkpoint(trail.checkpoint, ORIGIN, SIGNER.public))
    assert (await reader.verify_chain()).ok


async def test_any_change_is_detected() -> None:
    recs = records([event(i).to_json_bytes() for i in range(12)])
    store = await run(recs, 5)
    reader = await reader_for(store)
    blocks = [await reader.block(h) for h in range(3)]
    cp = parse_checkpoint(await reader.checkpoint(), ORIGIN, SIGNER.public)

    # A changed leaf hash in a served block (a changed event), a short or repeated one.
    leaves = blocks[1].leaf_hashes
    for bad_leaves in (
        ["00" * 32, *leaves[1:]],
        [leaves[0][:-2], *leaves[1:]],
        [leaves[0], leaves[0], *leaves[2:]],
        leaves[1:],
    ):
        bad = blocks[1].model_copy(update={"leaf_hashes": bad_leaves})
        with pytest.raises(LedgerVerificationError):
            verify_chain([blocks[0], bad, blocks[2]], SIGNER.public)
    # A changed header field, a dropped block, a reordered chain, a foreign signature.
    hdr = blocks[1].model_copy(update={"header": dict(blocks[1].header, count=3)})
    for bad_chain in ([blocks[0], hdr, blocks[2]], [blocks[0], blocks[2]], blocks[::-1]):
        with pytest.raises(LedgerVerificationError):
            verify_chain(bad_chain, SIGNER.public)
    with pytest.raises(LedgerVerificationError):
        verify_chain(blocks, SigningKey.generate().verify_key)
    # A changed proof hash, or a proof for a changed event.
    proof = await reader.inclusion(str(UUID(int=6)))
    for tampered in (
        proof.model_copy(update={"hashes": ["00" * 32, *proof.hashes[1:]]}),
        proof.model_copy(update={"event": dict(proof.event, type="acl.granted")}),
        proof.model_copy(update={"leaf_index": proof.leaf_index + 1}),
    ):
        with pytest.raises(LedgerVerificationError):
            verify_inclusion(tampered, cp)
    # Changes in the store: an entry's bytes, then a tree node: server-side verify sees both.
    e = store.leaves[5]
    store.leaves[5] = dataclasses.replace(e, leaf=e.leaf.replace(b"r5", b"r6"))
    assert not (await reader.verify_chain()).ok
    store.leaves[5] = e
    assert (await reader.verify_chain()).ok
    cid = next(iter(store.tree))
    store.tree[cid] = b"\x00" * len(store.tree[cid])
    reader = await reader_for(store)
    assert not (await reader.verify_chain()).ok


class FlakyStore(MemoryStore):
    """Fails its ``fail_at``-th save (counting from 0) before storing anything."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.saves = 0

    async def save_blocks(
        self, blocks: Sequence[BlockWrite], chunks: dict[ChunkId, bytes], head: Head
    ) -> None:
        self.saves += 1
        if self.saves - 1 == self.fail_at:
            raise RuntimeError("mongo went away")
        await super().save_blocks(blocks, chunks, head)


async def test_blocks_of_one_batch_are_stored_together_or_not_at_all() -> None:
    recs = records([event(i).to_json_bytes() for i in range(30)] + [cut(7).to_json_bytes()])
    want = chain(await run(recs, 10))
    for fail_at in range(4):
        store = FlakyStore(fail_at)
        seq = Sequencer(store, SIGNER, 4)
        await seq.load()
        checker = intake()
        failed = False
        position = 0
        while position < len(recs):
            part = recs[position : position + 10]
            before = (store.state, len(store.blocks), len(store.leaves))
            try:
                await seq.apply(part, await checker.check([r.value for r in part]))
            except RuntimeError:
                failed = True
                # Nothing of the batch is stored; the stream restarts from the store.
                assert (store.state, len(store.blocks), len(store.leaves)) == before
                assert seq.head == store.state  # the head shown is the stored one
                await seq.load()
            position = seq.position
        assert failed
        assert chain(store) == want, fail_at


async def test_one_batch_sealing_several_blocks_is_one_save() -> None:
    store = FlakyStore(-1)
    seq = Sequencer(store, SIGNER, 4)
    await seq.load()
    recs = records([event(i).to_json_bytes() for i in range(13)])
    applied = await seq.apply(recs, await intake().check([r.value for r in recs]))
    assert [b.header.height for b in applied.sealed] == [0, 1, 2]
    assert store.saves == 1 and store.state.height == 2 and len(store.leaves) == 12
    assert seq.head == store.state and seq.next_height == 3
    assert store.state.next_offset == 12 and seq.position == 13  # one event still pending


async def test_memory_store_refuses_blocks_that_do_not_follow_its_head() -> None:
    store = await run(records([event(i).to_json_bytes() for i in range(8)]), 8)
    block = store.blocks[1]
    entries = [store.leaves[i] for i in range(4, 8)]
    with pytest.raises(SequencerConflict):
        await store.save_blocks([(block, entries)], {}, store.state)

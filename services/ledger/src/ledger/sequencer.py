"""Sequencer: turns the ordered, verified record stream into signed blocks.

Ordering. Events arrive on several topics with several partitions each, and Kafka
orders only within a partition, so two replicas merging partitions by arrival would
disagree. The ledger therefore reads one total order that Kafka itself decides: a
relay (:mod:`ledger.relay`) copies every record of the event topics, byte for byte,
into the single-partition topic ``phr.ledger.sequence``, and the elected replica writes
its cut markers into that same partition. Every replica reads that one partition, so
all see the same records in the same order (the approach of Hyperledger Fabric's Kafka
orderer). The relay is at-least-once: after a crash it copies some records again, and
the sequencer includes an event id only the first time it appears, which every replica
decides identically because it depends on the order alone. A per-partition order is
kept (the relay copies a partition in offset order), so a patient's events keep theirs.
A replay of the sequence topic (``phr events replay``) rebuilds byte-identical blocks.

Cutting. A block is sealed when it holds ``block_max_entries`` events, or at a cut
marker naming the height of the pending block (a stale marker, whose block was already
cut by size, is ignored, like Fabric's TTC-n). Cut markers carry no leaf. Block time is
the latest event time in the block, and at least one microsecond after the previous
block: derived from the stream, never from a clock.

Crash safety. The blocks sealed from one batch of records, their index entries, their
tree nodes and the head (height, hash, compact range, *and the sequence offset after the
last block*) are stored in one Mongo transaction, when the batch has been applied (one
transaction per batch, not per block: fewer round trips). Events read after that offset
but not yet sealed live only in memory: on restart they are read again from Kafka, from
the stored offset. Nothing is committed to Kafka; the stored head is the consumer
position. A failed store leaves the memory ahead of the store: :meth:`Sequencer.load`
before going on (the stream does so when it restarts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from ledger.errors import SequencerConflict
from ledger.intake import Verdict
from ledger.signer import Signer
from ledger.store import BlockWrite, Entry, Head, Rejection, Store, StoredBlock
from ledger.tree import NodeBuffer, frontier_chunks
from phr.ledger import merkle
from phr.ledger.block import BlockHeader
from phr.service.metrics import LEDGER_HEIGHT, LEDGER_INGESTED

log = structlog.get_logger("ledger.sequencer")


@dataclass(frozen=True, slots=True)
class SeqRecord:
    """One record of the sequence topic."""

    offset: int
    value: bytes


@dataclass
class Applied:
    sealed: list[StoredBlock] = field(default_factory=list)
    rejected: list[tuple[SeqRecord, Rejection]] = field(default_factory=list)
    duplicates: int = 0
    accepted: int = 0


class Sequencer:
    """Deterministic: the same records give the same blocks, on any replica, after any crash.

    Not safe to share between two writers; the store refuses a block whose height does
    not follow its head. After an exception from :meth:`apply` call :meth:`load` again.
    """

    def __init__(self, store: Store, signer: Signer, max_entries: int = 512) -> None:
        self.store = store
        self.signer = signer
        self.max_entries = max_entries
        #: the last stored block
        self.head = Head()
        #: the last sealed block (ahead of ``head`` while apply stores a batch)
        self._tip = Head()
        self.log = merkle.CompactRange()
        self.nodes = NodeBuffer()
        self.pending: list[Entry] = []
        self.pending_ids: set[str] = set()
        #: offset of the next record to apply
        self.position = 0
        self.duplicates = 0
        self.accepted = 0

    @property
    def next_height(self) -> int:
        """Height of the pending block."""
        return self._tip.height + 1

    async def load(self) -> None:
        """(Re)start from the stored head: pending events are read again from the topic."""
        head = await self.store.head()
        frontier = frontier_chunks(head.log_size)
        stored = await self.store.chunks([(lv, c) for lv, (c, _) in frontier.items()])
        buffers: dict[int, tuple[int, bytearray]] = {}
        for level, (c, count) in frontier.items():
            data = stored.get((level, c), b"")
            if len(data) != count * merkle.HASH_SIZE:
                raise RuntimeError(f"tree chunk {level}:{c} holds {len(data)} bytes")
            buffers[level] = (c, bytearray(data))
        self.head = self._tip = head
        self.log = merkle.CompactRange(head.log_size, head.log_hashes)
        self.nodes = NodeBuffer(buffers)
        self.pending, self.pending_ids = [], set()
        self.position = head.next_offset
        LEDGER_HEIGHT.set(head.height)

    async def apply(self, records: Sequence[SeqRecord], verdicts: Sequence[Verdict]) -> Applied:
        """Apply records (in offset order) with their verdicts; seal blocks as they fill."""
        out = Applied()
        fresh = [
            (r, v) for r, v in zip(records, verdicts, strict=True) if r.offset >= self.position
        ]
        candidates = [v.event_id for _, v in fresh if v.kind == "event"]
        known = await self.store.known_event_ids(candidates)
        sealed_now: set[str] = set()
        writes: list[BlockWrite] = []
        for record, verdict in fresh:
            self.position = record.offset + 1
            if verdict.kind == "rejected":
                out.rejected.append(
                    (record, Rejection(record.offset, verdict.reason, verdict.event_id))
                )
            elif verdict.kind == "cut":
                if self.pending and verdict.cut_height == self.next_height:
                    writes.append(self._seal(record.offset + 1, sealed_now))
            else:
                eid = verdict.event_id
                if eid in known or eid in self.pending_ids or eid in sealed_now:
                    out.duplicates += 1
                    continue
                self.pending.append(
                    Entry(
                        leaf_index=self.log.size + len(self.pending),
                        event_id=eid,
                        subject=verdict.subject,
                        type=verdict.type,
                        height=self.next_height,
                        time_us=verdict.time_us,
                        leaf=verdict.leaf,
                    )
                )
                self.pending_ids.add(eid)
                out.accepted += 1
                if len(self.pending) >= self.max_entries:
                    writes.append(self._seal(record.offset + 1, sealed_now))
        if writes:
            await self.store.save_blocks(writes, self.nodes.take_dirty(), self._tip)
            self.head = self._tip
            out.sealed = [block for block, _ in writes]
        self.duplicates += out.duplicates
        self.accepted += out.accepted
        LEDGER_INGESTED.inc(out.accepted)
        LEDGER_HEIGHT.set(self.head.height)
        if out.rejected:
            await self.store.record_rejections([rej for _, rej in out.rejected])
        return out

    def _seal(self, next_offset: int, sealed_now: set[str]) -> BlockWrite:
        """Seal the pending entries into the next block (in memory: apply stores it)."""
        entries = self.pending
        hashes = [merkle.leaf_hash(e.leaf) for e in entries]
        for h in hashes:
            self.log.append(h, self.nodes.add)
        prev = self._tip
        header = BlockHeader(
            height=prev.height + 1,
            prev_hash=prev.hash,
            merkle_root=merkle.root_from_leaf_hashes(hashes),
            count=len(entries),
            log_size=self.log.size,
            log_root=self.log.root(),
            time_us=max(max(e.time_us for e in entries), prev.time_us + 1),
            first_offset=prev.next_offset,
            next_offset=next_offset,
        )
        # Refuse a block that does not move height, time and offsets forward.
        if not (
            header.height == prev.height + 1
            and header.time_us > prev.time_us
            and header.next_offset > header.first_offset
        ):
            raise SequencerConflict(f"block {header.height} does not advance the chain")
        raw = header.to_bytes()
        block = StoredBlock(header, self.signer.sign(raw))
        head = Head(
            height=header.height,
            hash=header.hash(),
            next_offset=next_offset,
            time_us=header.time_us,
            log_size=self.log.size,
            log_hashes=tuple(self.log.hashes),
        )
        self._tip = head
        sealed_now.update(self.pending_ids)
        self.pending, self.pending_ids = [], set()
        log.debug("block.sealed", height=header.height, entries=header.count)
        return block, entries

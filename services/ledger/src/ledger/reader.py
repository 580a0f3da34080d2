"""Read side: blocks, checkpoints, inclusion and consistency proofs, audit trails.

Proofs are built from stored complete nodes (:mod:`ledger.tree`): O(log n) node reads
in one query per proof, never a rehash of the log. Full chunks never change and are
cached.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ledger.errors import BlockNotFound, EventNotInLedger, TreeSizeOutOfRange
from ledger.signer import Signer
from ledger.store import Entry, Head, Store
from ledger.tree import CHUNK, ChunkId, NodeBuffer, chunk_of, node_from_chunk
from phr.crypto.signing import VerifyKey
from phr.ledger import merkle
from phr.ledger.checkpoint import Checkpoint, vkey
from phr.ledger.verify import ChainState, LedgerVerificationError, verify_chain
from phr.ledger.wire import (
    AuditTrailOut,
    BlockOut,
    ChainReport,
    ConsistencyProofOut,
    InclusionProofOut,
    LedgerKeyOut,
)

_CACHE_CHUNKS = 4096


class LedgerReader:
    def __init__(self, store: Store, signer: Signer, origin: str) -> None:
        self.store = store
        self.signer = signer
        self.origin = origin
        self._full: OrderedDict[ChunkId, bytes] = OrderedDict()

    def key(self) -> LedgerKeyOut:
        pub: VerifyKey = self.signer.public
        return LedgerKeyOut(
            origin=self.origin, ed25519_public=pub.b64(), vkey=vkey(self.origin, pub)
        )

    async def head(self) -> Head:
        return await self.store.head()

    async def _nodes(self, ids: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
        wanted = {chunk_of(n) for n in ids}
        have = {c: self._full[c] for c in wanted if c in self._full}
        missing = [c for c in wanted if c not in have]
        if missing:
            fetched = await self.store.chunks(missing)
            for cid, data in fetched.items():
                have[cid] = data
                if len(data) == CHUNK * merkle.HASH_SIZE:
                    self._full[cid] = data
                    if len(self._full) > _CACHE_CHUNKS:
                        self._full.popitem(last=False)
        out: dict[merkle.NodeId, bytes] = {}
        for n in ids:
            if chunk_of(n) not in have:
                raise KeyError(f"tree node {n} is not stored")
            out[n] = node_from_chunk(have[chunk_of(n)], n[1])
        return out

    async def _size(self, size: int | None) -> int:
        head = await self.store.head()
        if size is None:
            return head.log_size
        if not 0 <= size <= head.log_size:
            raise TreeSizeOutOfRange(f"the log holds {head.log_size} events, not {size}")
        return size

    async def root(self, size: int) -> bytes:
        nodes = await self._nodes(merkle.root_nodes(size))
        return merkle.tree_root(size, lambda lv, i: nodes[(lv, i)])

    async def checkpoint(self) -> str:
        """The latest checkpoint as a C2SP signed note."""
        head = await self.store.head()
        root = merkle.CompactRange(head.log_size, head.log_hashes).root()
        return self.signer.sign_checkpoint(
            Checkpoint(self.origin, head.log_size, root), self.origin
        )

    async def block(self, height: int) -> BlockOut:
        stored = await self.store.block(height)
        if stored is None:
            raise BlockNotFound(f"no block at height {height}")
        h = stored.header
        entries = await self.store.entries(h.log_size - h.count, h.log_size)
        return BlockOut(
            height=h.height,
            hash=h.hash().hex(),
            header=h.to_json(),
            header_bytes=base64.b64encode(h.to_bytes()).decode(),
            signature=base64.b64encode(stored.signature).decode(),
            leaf_hashes=[merkle.leaf_hash(e.leaf).hex() for e in entries],
        )

    async def _inclusion(self, entry: Entry, size: int, root: bytes) -> InclusionProofOut:
        ids = merkle.inclusion_nodes(entry.leaf_index, size)
        nodes = await self._nodes(ids)
        path = merkle.inclusion_proof(entry.leaf_index, size, lambda lv, i: nodes[(lv, i)])
        return InclusionProofOut(
            event_id=entry.event_id,
            height=entry.height,
            leaf_index=entry.leaf_index,
            tree_size=size,
            root_hash=root.hex(),
            hashes=[p.hex() for p in path],
            event=json.loads(entry.leaf),
        )

    async def inclusion(self, event_id: str, size: int | None = None) -> InclusionProofOut:
        entry = await self.store.entry_by_event(event_id)
        if entry is None:
            raise EventNotInLedger(f"event {event_id} is not in a sealed block")
        n = await self._size(size)
        if entry.leaf_index >= n:
            raise TreeSizeOutOfRange(f"event {event_id} is leaf {entry.leaf_index}, beyond {n}")
        return await self._inclusion(entry, n, await self.root(n))

    async def consistency(self, first: int, second: int | None = None) -> ConsistencyProofOut:
        new = await self._size(second)
        if not 0 <= first <= new:
            raise TreeSizeOutOfRange(f"no consistency proof from {first} to {new}")
        nodes = await self._nodes(
            merkle.consistency_nodes(first, new) + merkle.root_nodes(first) + merkle.root_nodes(new)
        )

        def get(lv: int, i: int) -> bytes:
            return nodes[(lv, i)]

        return ConsistencyProofOut(
            first=first,
            second=new,
            first_root=merkle.tree_root(first, get).hex(),
            second_root=merkle.tree_root(new, get).hex(),
            hashes=[p.hex() for p in merkle.consistency_proof(first, new, get)],
        )

    async def event(self, event_id: str) -> dict[str, Any]:
        entry = await self.store.entry_by_event(event_id)
        if entry is None:
            raise EventNotInLedger(f"event {event_id} is not in a sealed block")
        envelope: dict[str, Any] = json.loads(entry.leaf)
        return envelope

    async def events(
        self, *, subject: str | None, type: str | None, source: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Sealed envelopes, in log order (``source`` is filtered after the query)."""
        entries = await self.store.find_entries(subject=subject, type=type, limit=limit)
        found = [json.loads(e.leaf) for e in entries]
        return [e for e in found if source is None or e.get("source") == source]

    async def audit_trail(self, subject: str, limit: int = 1000) -> AuditTrailOut:
        """Every sealed event about ``subject``, each proven against the latest checkpoint."""
        # One head for the note and every proof; blocks sealed meanwhile are left out
        # (their leaves are beyond this tree), not proven against a tree that lacks them.
        head = await self.store.head()
        root = merkle.CompactRange(head.log_size, head.log_hashes).root()
        note = self.signer.sign_checkpoint(
            Checkpoint(self.origin, head.log_size, root), self.origin
        )
        entries = await self.store.entries_by_subject(subject, limit)
        proofs = [
            await self._inclusion(e, head.log_size, root)
            for e in entries
            if e.leaf_index < head.log_size
        ]
        return AuditTrailOut(
            subject=subject, checkpoint=note, tree_size=head.log_size, entries=proofs
        )

    async def _tree_differs(self, size: int, step: int = 4096) -> bool:
        """Recompute every complete node from the stored leaves and compare the chunks."""
        computed = NodeBuffer()
        cr = merkle.CompactRange()
        for start in range(0, size, step):
            for entry in await self.store.entries(start, min(size, start + step)):
                cr.append(merkle.leaf_hash(entry.leaf), computed.add)
        want = computed.take_dirty()
        ids = sorted(want)
        for i in range(0, len(ids), 512):
            part = ids[i : i + 512]
            stored = await self.store.chunks(part)
            if any(stored.get(c) != want[c] for c in part):
                return True
        return cr.size != size

    async def verify_chain(self) -> ChainReport:
        """Re-verify every stored block, link and the head, as an outside verifier would."""
        head = await self.store.head()
        state = ChainState()
        errors: list[str] = []
        try:
            for height in range(head.height + 1):
                verify_chain([await self.block(height)], self.signer.public, state)
            if (
                state.log_size != head.log_size
                or state.log_root() != merkle.CompactRange(head.log_size, head.log_hashes).root()
            ):
                errors.append("stored head does not match the chain")
            if await self._tree_differs(state.log_size):
                errors.append("stored tree nodes do not match the chain")
        except (LedgerVerificationError, BlockNotFound, KeyError) as exc:
            errors.append(str(exc))
        return ChainReport(
            ok=not errors,
            blocks=state.height + 1,
            log_size=state.log_size,
            log_root=state.log_root().hex(),
            errors=errors,
        )

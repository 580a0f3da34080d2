"""Persistence of the chain: the only module of the ledger that imports pymongo.

Collections (database of this replica):

- ``blocks``   ``{_id: height, header: bytes, sig: bytes, hash: hex}``
- ``entries``  one per leaf: ``{_id: leaf index, e: event id (unique), s: subject,
  h: height, t: time_us, leaf: canonical envelope bytes}``; the indexes by event id and
  by subject (patient)
- ``tree``     chunks of complete Merkle nodes (see :mod:`ledger.tree`)
- ``state``    ``{_id: "head"}``: the last sealed block *and the sequence-topic offset
  after it*, so the block and the consumer position move together in one transaction
- ``rejections`` ``{_id: sequence offset, reason, e}`` (idempotent by offset)

Contract: :meth:`Store.save_blocks` is atomic: either the blocks, their entries, the tree
nodes and the new head are all stored, or none is; and it fails if a block at one of
those heights already exists (a second writer, or a replay after a crash). The sequencer
stores every block it seals from one batch of records in one call (one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bson import Binary
from pymongo import ASCENDING, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ledger.errors import SequencerConflict
from ledger.tree import ChunkId
from phr.ledger.block import ZERO_HASH, BlockHeader
from phr.service.mongo import Document


@dataclass(frozen=True)
class Head:
    """The last sealed block and where reading resumes; ``height`` -1 for an empty chain."""

    height: int = -1
    hash: bytes = ZERO_HASH
    next_offset: int = 0
    time_us: int = -1
    log_size: int = 0
    log_hashes: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Entry:
    leaf_index: int
    event_id: str
    subject: str
    height: int
    time_us: int
    leaf: bytes
    type: str = ""


@dataclass(frozen=True)
class StoredBlock:
    header: BlockHeader
    signature: bytes


@dataclass(frozen=True)
class Rejection:
    offset: int
    reason: str
    event_id: str = ""


#: a sealed block and its entries, in leaf order
BlockWrite = tuple[StoredBlock, Sequence[Entry]]


def _check_run(blocks: Sequence[BlockWrite], head: Head) -> None:
    """Blocks of one call follow each other and end at ``head``."""
    if not blocks:
        raise ValueError("no block to save")
    heights = [b.header.height for b, _ in blocks]
    if heights != list(range(heights[0], heights[0] + len(heights))) or heights[-1] != head.height:
        raise SequencerConflict(f"blocks {heights} do not run up to head {head.height}")


class Store(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def head(self) -> Head: ...

    async def known_event_ids(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` already in a sealed block."""
        ...

    async def save_blocks(
        self, blocks: Sequence[BlockWrite], chunks: dict[ChunkId, bytes], head: Head
    ) -> None:
        """Store consecutive blocks with their entries, the changed tree chunks and the
        head after the last block, atomically."""
        ...

    async def chunks(self, ids: Sequence[ChunkId]) -> dict[ChunkId, bytes]: ...

    async def block(self, height: int) -> StoredBlock | None: ...

    async def entries(self, start: int, end: int) -> list[Entry]:
        """Leaves ``start`` .. ``end - 1`` in leaf order."""
        ...

    async def entry_by_event(self, event_id: str) -> Entry | None: ...

    async def entries_by_subject(self, subject: str, limit: int) -> list[Entry]: ...

    async def find_entries(
        self, *, subject: str | None, type: str | None, limit: int
    ) -> list[Entry]:
        """Sealed entries about ``subject`` and/or of ``type``, in log order."""
        ...

    async def record_rejections(self, rejections: Sequence[Rejection]) -> None: ...

    async def rejection_count(self) -> int: ...


# ------------------------------------------------------------------ memory


@dataclass
class MemoryStore:
    """In-process store with the same contract (unit tests)."""

    blocks: dict[int, StoredBlock] = field(default_factory=dict)
    leaves: dict[int, Entry] = field(default_factory=dict)
    by_event: dict[str, int] = field(default_factory=dict)
    tree: dict[ChunkId, bytes] = field(default_factory=dict)
    state: Head = field(default_factory=Head)
    rejections: dict[int, Rejection] = field(default_factory=dict)

    async def ensure_indexes(self) -> None:
        return None

    async def head(self) -> Head:
        return self.state

    async def known_event_ids(self, ids: Sequence[str]) -> set[str]:
        return {i for i in ids if i in self.by_event}

    async def save_blocks(
        self, blocks: Sequence[BlockWrite], chunks: dict[ChunkId, bytes], head: Head
    ) -> None:
        _check_run(blocks, head)
        if blocks[0][0].header.height != self.state.height + 1:
            raise SequencerConflict(f"block {blocks[0][0].header.height} does not follow the head")
        ids = [e.event_id for _, entries in blocks for e in entries]
        if len(set(ids)) != len(ids) or any(i in self.by_event for i in ids):
            raise SequencerConflict("an event of these blocks is already stored")
        for block, _ in blocks:
            if block.header.height in self.blocks:
                raise SequencerConflict(f"block {block.header.height} is already stored")
        for block, entries in blocks:
            self.blocks[block.header.height] = block
            for e in entries:
                self.leaves[e.leaf_index] = e
                self.by_event[e.event_id] = e.leaf_index
        self.tree.update(chunks)
        self.state = head

    async def chunks(self, ids: Sequence[ChunkId]) -> dict[ChunkId, bytes]:
        return {i: self.tree[i] for i in ids if i in self.tree}

    async def block(self, height: int) -> StoredBlock | None:
        return self.blocks.get(height)

    async def entries(self, start: int, end: int) -> list[Entry]:
        return [self.leaves[i] for i in range(start, end) if i in self.leaves]

    async def entry_by_event(self, event_id: str) -> Entry | None:
        i = self.by_event.get(event_id)
        return None if i is None else self.leaves[i]

    async def entries_by_subject(self, subject: str, limit: int) -> list[Entry]:
        found = [e for _, e in sorted(self.leaves.items()) if e.subject == subject]
        return found[:limit]

    async def find_entries(
        self, *, subject: str | None, type: str | None, limit: int
    ) -> list[Entry]:
        found = [
            e
            for _, e in sorted(self.leaves.items())
            if (subject is None or e.subject == subject) and (type is None or e.type == type)
        ]
        return found[:limit]

    async def record_rejections(self, rejections: Sequence[Rejection]) -> None:
        for r in rejections:
            self.rejections[r.offset] = r

    async def rejection_count(self) -> int:
        return len(self.rejections)


# ------------------------------------------------------------------ mongo

BLOCKS, ENTRIES, TREE, STATE, REJECTIONS = "blocks", "entries", "tree", "state", "rejections"


def _chunk_key(cid: ChunkId) -> str:
    return f"{cid[0]}:{cid[1]}"


def _entry(doc: Document) -> Entry:
    return Entry(
        leaf_index=int(doc["_id"]),
        event_id=doc["e"],
        subject=doc["s"],
        height=int(doc["h"]),
        time_us=int(doc["t"]),
        leaf=bytes(doc["leaf"]),
        type=doc.get("ty", ""),
    )


class MongoStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db

    async def ensure_indexes(self) -> None:
        await self.db[ENTRIES].create_index([("e", ASCENDING)], unique=True)
        await self.db[ENTRIES].create_index([("s", ASCENDING), ("_id", ASCENDING)])
        await self.db[ENTRIES].create_index([("ty", ASCENDING), ("_id", ASCENDING)])

    async def head(self) -> Head:
        doc = await self.db[STATE].find_one({"_id": "head"})
        if doc is None:
            return Head()
        return Head(
            height=int(doc["height"]),
            hash=bytes(doc["hash"]),
            next_offset=int(doc["next_offset"]),
            time_us=int(doc["time_us"]),
            log_size=int(doc["log_size"]),
            log_hashes=tuple(bytes(h) for h in doc["log_hashes"]),
        )

    async def known_event_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        cursor = self.db[ENTRIES].find({"e": {"$in": list(ids)}}, {"e": 1, "_id": 0})
        return {doc["e"] async for doc in cursor}

    async def save_blocks(
        self, blocks: Sequence[BlockWrite], chunks: dict[ChunkId, bytes], head: Head
    ) -> None:
        _check_run(blocks, head)
        first = blocks[0][0].header.height
        block_docs = [
            {
                "_id": b.header.height,
                "header": Binary(b.header.to_bytes()),
                "sig": Binary(b.signature),
                "hash": b.header.hash().hex(),
            }
            for b, _ in blocks
        ]
        entry_docs = [
            {
                "_id": e.leaf_index,
                "e": e.event_id,
                "s": e.subject,
                "h": e.height,
                "t": e.time_us,
                "leaf": e.leaf,  # BSON binary subtype 0, as Binary(e.leaf) would be
                "ty": e.type,
            }
            for _, entries in blocks
            for e in entries
        ]
        chunk_ops = [
            ReplaceOne({"_id": _chunk_key(cid)}, {"d": Binary(data)}, upsert=True)
            for cid, data in chunks.items()
        ]
        head_doc = {
            "height": head.height,
            "hash": Binary(head.hash),
            "next_offset": head.next_offset,
            "time_us": head.time_us,
            "log_size": head.log_size,
            "log_hashes": [Binary(x) for x in head.log_hashes],
        }

        async def txn(session: AsyncClientSession) -> None:
            # The head moves only from the block before: a stale writer conflicts here.
            prev = await self.db[STATE].find_one({"_id": "head"}, session=session)
            if (prev["height"] if prev else -1) != first - 1:
                raise SequencerConflict(f"block {first} does not follow the stored head")
            await self.db[BLOCKS].insert_many(block_docs, session=session)
            if entry_docs:
                await self.db[ENTRIES].insert_many(entry_docs, ordered=False, session=session)
            if chunk_ops:
                await self.db[TREE].bulk_write(chunk_ops, ordered=False, session=session)
            await self.db[STATE].replace_one(
                {"_id": "head"}, head_doc, upsert=True, session=session
            )

        try:
            async with self.db.client.start_session() as session:
                await session.with_transaction(txn)
        except DuplicateKeyError as exc:
            raise SequencerConflict(f"block {first} or one of its events is stored") from exc
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors") or [{}]
            if all(e.get("code") == 11000 for e in errors):
                raise SequencerConflict(f"block {first} or one of its events is stored") from exc
            raise

    async def chunks(self, ids: Sequence[ChunkId]) -> dict[ChunkId, bytes]:
        keys = {_chunk_key(c): c for c in ids}
        cursor = self.db[TREE].find({"_id": {"$in": list(keys)}})
        return {keys[doc["_id"]]: bytes(doc["d"]) async for doc in cursor}

    async def block(self, height: int) -> StoredBlock | None:
        doc = await self.db[BLOCKS].find_one({"_id": height})
        if doc is None:
            return None
        return StoredBlock(BlockHeader.from_bytes(bytes(doc["header"])), bytes(doc["sig"]))

    async def entries(self, start: int, end: int) -> list[Entry]:
        q: dict[str, Any] = {"_id": {"$gte": start, "$lt": end}}
        return [_entry(d) async for d in self.db[ENTRIES].find(q).sort("_id", 1)]

    async def entry_by_event(self, event_id: str) -> Entry | None:
        doc = await self.db[ENTRIES].find_one({"e": event_id})
        return None if doc is None else _entry(doc)

    async def entries_by_subject(self, subject: str, limit: int) -> list[Entry]:
        cursor = self.db[ENTRIES].find({"s": subject}).sort("_id", 1).limit(limit)
        return [_entry(d) async for d in cursor]

    async def find_entries(
        self, *, subject: str | None, type: str | None, limit: int
    ) -> list[Entry]:
        q: dict[str, Any] = {}
        if subject is not None:
            q["s"] = subject
        if type is not None:
            q["ty"] = type
        cursor = self.db[ENTRIES].find(q).sort("_id", 1).limit(limit)
        return [_entry(d) async for d in cursor]

    async def record_rejections(self, rejections: Sequence[Rejection]) -> None:
        for r in rejections:
            await self.db[REJECTIONS].replace_one(
                {"_id": r.offset}, {"reason": r.reason, "e": r.event_id}, upsert=True
            )

    async def rejection_count(self) -> int:
        return await self.db[REJECTIONS].count_documents({})

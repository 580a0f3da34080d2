"""Storage layout of the log's Merkle tree: every complete node, in chunks of 256.

Level ``l`` holds the hashes of nodes ``(l, i)``; chunk ``(l, c)`` holds nodes
``c*256 .. c*256+255`` of that level, concatenated (at most 8 KiB). A log of n leaves
has ~2n/256 chunks, so 1M events are ~8k small documents, and a proof needs one chunk
per node it reads (O(log n), fetched in one query). Only the last chunk of each level
changes; the sequencer keeps those (the *frontier*) in memory and rewrites them with
each block.
"""

from __future__ import annotations

from phr.ledger.merkle import HASH_SIZE, NodeId

CHUNK = 256
ChunkId = tuple[int, int]


def chunk_of(node: NodeId) -> ChunkId:
    level, index = node
    return level, index // CHUNK


def node_from_chunk(chunk: bytes, index: int) -> bytes:
    at = (index % CHUNK) * HASH_SIZE
    h = chunk[at : at + HASH_SIZE]
    if len(h) != HASH_SIZE:
        raise KeyError(f"node {index} is not in its chunk yet")
    return h


def frontier_chunks(size: int) -> dict[int, tuple[int, int]]:
    """Level -> (chunk index, nodes it holds) of the partial last chunks of a tree."""
    out: dict[int, tuple[int, int]] = {}
    level = 0
    while size >> level:
        count = size >> level
        if count % CHUNK:
            out[level] = (count // CHUNK, count % CHUNK)
        level += 1
    return out


class NodeBuffer:
    """Collects newly completed nodes into their chunks; hands over the changed ones."""

    def __init__(self, frontier: dict[int, tuple[int, bytearray]] | None = None) -> None:
        #: level -> (chunk index, its content so far)
        self.frontier: dict[int, tuple[int, bytearray]] = frontier or {}
        self._dirty: dict[ChunkId, bytearray] = {}

    def add(self, level: int, index: int, h: bytes) -> None:
        c = index // CHUNK
        cur = self.frontier.get(level)
        if cur is None or cur[0] != c:
            if index % CHUNK:
                raise ValueError(f"node ({level}, {index}) does not continue its level")
            cur = (c, bytearray())
            self.frontier[level] = cur
        if len(cur[1]) != (index % CHUNK) * HASH_SIZE:
            raise ValueError(f"node ({level}, {index}) out of order")
        cur[1].extend(h)
        self._dirty[(level, c)] = cur[1]

    def take_dirty(self) -> dict[ChunkId, bytes]:
        out = {cid: bytes(buf) for cid, buf in self._dirty.items()}
        self._dirty.clear()
        return out

    def copy(self) -> NodeBuffer:
        return NodeBuffer({lv: (c, bytearray(b)) for lv, (c, b) in self.frontier.items()})

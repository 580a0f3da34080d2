"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification. Pure.

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || l || r)``
(domain separation: a leaf can never be passed off as a node). The tree of ``n`` leaves
splits at ``k``, the largest power of two below ``n`` (RFC 9162 section 2.1.1).

Proof *generation* does not need the leaves: it asks a ``NodeReader`` for the hashes of
complete subtrees ``(level, index)`` (the node covering leaves
``[index * 2**level, (index + 1) * 2**level)``), like transparency-dev/merkle's
``proof`` package. A store that keeps every complete node therefore answers a proof
with O(log n) lookups; :func:`inclusion_nodes` and :func:`consistency_nodes` say which
ones up front so they can be fetched in one round trip.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
#: SHA-256 of the empty string: the root of the empty tree (RFC 9162 section 2.1.1)
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
NodeReader = Callable[[int, int], bytes]


class ProofInvalid(Exception):
    """A proof does not link the given leaf or roots."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from the leaf hashes, iteratively (O(n))."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    # Pairing left to right and carrying an odd last node up unchanged yields the same
    # tree as RFC 9162's recursive split at the largest power of two.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of raw leaf data."""
    return root_from_leaf_hashes([leaf_hash(d) for d in leaves])


# ------------------------------------------------------------------ compact range


class CompactRange:
    """The right frontier of a tree: roots of its perfect subtrees, largest first.

    Enough to append leaves and compute the root in O(log n) memory (trillian's
    compact range). ``on_node`` is told of every complete node as it is completed, so
    a store can keep all of them for proofs.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a compact range holds one hash per set bit of its size")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        """Append a leaf hash; report it and every node it completes."""
        index = self.size
        h = leaf
        level = 0
        if on_node is not None:
            on_node(0, index, h)
        while (index >> level) & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            if on_node is not None:
                on_node(level, index >> level, h)
        self.hashes.append(h)
        self.size += 1

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.hashes)


# ------------------------------------------------------------------ proof generation


def _subtree(start: int, end: int, get: NodeReader) -> bytes:
    """MTH of leaves [start, end), where start is aligned to the subtree's split."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return get(n.bit_length() - 1, start // n)
    k = _split(n)
    return node_hash(_subtree(start, start + k, get), _subtree(start + k, end, get))


def _path(m: int, start: int, end: int, get: NodeReader) -> list[bytes]:
    """RFC 9162 PATH(m, D[start:end]), leaf-to-root order."""
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(m, start, start + k, get), _subtree(start + k, end, get)]
    return [*_path(m - k, start + k, end, get), _subtree(start, start + k, get)]


def _subproof(m: int, start: int, end: int, complete: bool, get: NodeReader) -> list[bytes]:
    """RFC 9162 SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if complete else [_subtree(start, end, get)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, start, start + k, complete, get), _subtree(start + k, end, get)]
    return [*_subproof(m - k, start + k, end, False, get), _subtree(start, start + k, get)]


def inclusion_proof(index: int, size: int, get: NodeReader) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _path(index, 0, size, get)


def consistency_proof(old: int, new: int, get: NodeReader) -> list[bytes]:
    """Proof that the tree of ``old`` leaves is a prefix of the one of ``new`` (2.1.4.1)."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} to {new}")
    if old == 0 or old == new:
        return []
    return _subproof(old, 0, new, True, get)


def _needed(run: Callable[[NodeReader], object]) -> list[NodeId]:
    seen: list[NodeId] = []

    def record(level: int, index: int) -> bytes:
        seen.append((level, index))
        return EMPTY_ROOT

    run(record)
    return sorted(set(seen))


def inclusion_nodes(index: int, size: int) -> list[NodeId]:
    """The complete nodes :func:`inclusion_proof` reads (fetch them in one go)."""
    return _needed(lambda get: inclusion_proof(index, size, get))


def consistency_nodes(old: int, new: int) -> list[NodeId]:
    return _needed(lambda get: consistency_proof(old, new, get))


def root_nodes(size: int) -> list[NodeId]:
    return _needed(lambda get: tree_root(size, get))


def tree_root(size: int, get: NodeReader) -> bytes:
    """MTH of the first ``size`` leaves from stored complete nodes."""
    return EMPTY_ROOT if size == 0 else _subtree(0, size, get)


# ------------------------------------------------------------------ verification
#
# The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 and match
# transparency-dev/merkle's proof package case for case (its testdata vectors run in
# our suite): a proof is exactly as long as the tree shape requires, every hash in it
# and the leaf hash are HASH_SIZE bytes, sizes are uint64, and a consistency proof from
# the empty tree is refused as meaningless (any tree extends the empty one, so such a
# "proof" would accept any old root). Only :class:`ProofInvalid` is ever raised.

MAX_SIZE = (1 << 64) - 1


def _check_size(*sizes: int) -> None:
    for n in sizes:
        if not 0 <= n <= MAX_SIZE:
            raise ProofInvalid(f"tree size {n} is not a uint64")


def _check_hashes(proof: Sequence[bytes]) -> None:
    if any(len(p) != HASH_SIZE for p in proof):
        raise ProofInvalid("proof hash of the wrong length")


def _inclusion_shape(index: int, size: int) -> tuple[int, int]:
    """How many proof hashes lie below the fork from the right border, and on it."""
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    return inner, border


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        seed = node_hash(seed, h) if not (index >> i) & 1 else node_hash(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    for i, h in enumerate(proof):
        if (index >> i) & 1:
            seed = node_hash(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    for h in proof:
        seed = node_hash(h, seed)
    return seed


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an audit path (RFC 9162 2.1.3.2); raises if malformed."""
    _check_size(index, size)
    if index >= size:
        raise ProofInvalid(f"leaf {index} is not in a tree of {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofInvalid("leaf hash of the wrong length")
    _check_hashes(proof)
    inner, border = _inclusion_shape(index, size)
    if len(proof) != inner + border:
        raise ProofInvalid(f"proof has {len(proof)} hashes, the tree needs {inner + border}")
    return _chain_border_right(_chain_inner(leaf, proof[:inner], index), proof[inner:])


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raise :class:`ProofInvalid` unless ``leaf`` is leaf ``index`` of the tree ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != expected_root:
        raise ProofInvalid("inclusion proof does not lead to the root")


def root_from_consistency(old: int, new: int, old_root: bytes, proof: Sequence[bytes]) -> bytes:
    """The root of tree ``new`` implied by ``proof`` from tree ``old`` with ``old_root``.

    Also checks that the proof's nodes inside the old tree lead to ``old_root``.
    """
    _check_size(old, new)
    if new < old:
        raise ProofInvalid(f"sizes {old} and {new} are not in order")
    if old == 0:
        raise ProofInvalid("a consistency proof from the empty tree is meaningless")
    if old == new:
        if proof:
            raise ProofInvalid("no proof is needed between equal sizes")
        return old_root
    if not proof:
        raise ProofInvalid("empty consistency proof")
    _check_hashes(proof)
    inner, border = _inclusion_shape(old - 1, new)
    # The proof starts at the root of the rightmost perfect subtree of the old tree;
    # when the old tree is itself perfect, that root is old_root and is not sent.
    shift = (old & -old).bit_length() - 1
    inner -= shift
    seed, rest = proof[0], proof[1:]
    if old == 1 << shift:
        seed, rest = old_root, proof
    if len(rest) != inner + border:
        raise ProofInvalid(f"proof has {len(proof)} hashes, the sizes need another count")
    mask = (old - 1) >> shift
    first = _chain_border_right(_chain_inner_right(seed, rest[:inner], mask), rest[inner:])
    if first != old_root:
        raise ProofInvalid("consistency proof does not lead to the old root")
    return _chain_border_right(_chain_inner(seed, rest[:inner], mask), rest[inner:])


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise :class:`ProofInvalid` unless tree ``old`` is a prefix of tree ``new`` (2.1.4.2)."""
    if root_from_consistency(old, new, old_root, proof) != new_root:
        raise ProofInvalid("consistency proof does not lead to the new root")

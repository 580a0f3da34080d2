"""Offline verification of what a ledger serves, with nothing but its public key.

Checks a block's signature and Merkle root, the links of a chain (height, previous hash,
offsets, strictly increasing time, running log size and root), inclusion and consistency
proofs, and C2SP checkpoints. Every failure raises :class:`LedgerVerificationError`.

A chain is checked from its blocks' leaf hashes, which the ledger serves to anyone; event
bodies are not needed (and are served only to those they concern): whoever holds an
event checks it is in the log with its inclusion proof (:func:`verify_inclusion`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field

from phr.crypto.signing import SignatureInvalid, VerifyKey
from phr.ledger import merkle
from phr.ledger.block import ZERO_HASH, BlockHeader, BlockInvalid, leaf_bytes
from phr.ledger.checkpoint import Checkpoint, CheckpointInvalid, parse_checkpoint
from phr.ledger.wire import BlockOut, ConsistencyProofOut, InclusionProofOut


class LedgerVerificationError(Exception):
    """Something the ledger served does not verify."""


def verify_block(block: BlockOut, key: VerifyKey) -> BlockHeader:
    """Signature, hash, decoded fields and Merkle root of one block; returns its header."""
    try:
        raw = base64.b64decode(block.header_bytes, validate=True)
        header = BlockHeader.from_bytes(raw)
    except (ValueError, BlockInvalid) as exc:
        raise LedgerVerificationError(f"block {block.height}: bad header bytes") from exc
    try:
        key.verify(base64.b64decode(block.signature), raw)
    except (SignatureInvalid, ValueError) as exc:
        raise LedgerVerificationError(f"block {block.height}: bad signature") from exc
    if header.to_json() != block.header or header.height != block.height:
        raise LedgerVerificationError(f"block {block.height}: header fields differ from bytes")
    if header.hash().hex() != block.hash:
        raise LedgerVerificationError(f"block {block.height}: wrong hash")
    if len(block.leaf_hashes) != header.count:
        raise LedgerVerificationError(f"block {block.height}: wrong number of events")
    if merkle.root_from_leaf_hashes(_leaf_hashes(block)) != header.merkle_root:
        raise LedgerVerificationError(f"block {block.height}: events do not match merkle root")
    return header


def _leaf_hashes(block: BlockOut) -> list[bytes]:
    try:
        hashes = [bytes.fromhex(h) for h in block.leaf_hashes]
    except ValueError:
        hashes = []
    if len(hashes) != len(block.leaf_hashes) or any(len(h) != 32 for h in hashes):
        raise LedgerVerificationError(f"block {block.height}: a leaf hash is not 32 bytes")
    return hashes


@dataclass
class ChainState:
    """What a verifier has accepted so far: the head and the log's compact range."""

    height: int = -1
    head_hash: bytes = ZERO_HASH
    next_offset: int = 0
    time_us: int = -1
    log: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    #: every leaf hash so far: the same event twice is the same leaf twice
    leaves: set[bytes] = field(default_factory=set)

    @property
    def log_size(self) -> int:
        return self.log.size

    def log_root(self) -> bytes:
        return self.log.root()


def verify_chain(
    blocks: Iterable[BlockOut], key: VerifyKey, state: ChainState | None = None
) -> ChainState:
    """Verify blocks in height order, extending ``state`` (a fresh chain by default)."""
    st = state or ChainState()
    for block in blocks:
        h = verify_block(block, key)
        where = f"block {h.height}"
        if h.height != st.height + 1:
            raise LedgerVerificationError(f"{where}: expected height {st.height + 1}")
        if h.prev_hash != st.head_hash:
            raise LedgerVerificationError(f"{where}: does not link to the previous block")
        if h.first_offset != st.next_offset or h.next_offset <= h.first_offset:
            raise LedgerVerificationError(f"{where}: offsets do not continue the chain")
        if h.time_us <= st.time_us:
            raise LedgerVerificationError(f"{where}: time does not increase")
        for leaf in _leaf_hashes(block):
            if leaf in st.leaves:
                raise LedgerVerificationError(f"{where}: leaf {leaf.hex()} appears twice")
            st.leaves.add(leaf)
            st.log.append(leaf)
        if h.log_size != st.log.size or h.log_root != st.log.root():
            raise LedgerVerificationError(f"{where}: log size or root is wrong")
        st.height, st.head_hash = h.height, h.hash()
        st.next_offset, st.time_us = h.next_offset, h.time_us
    return st


def verify_checkpoint(note: str, origin: str, key: VerifyKey) -> Checkpoint:
    try:
        cp = parse_checkpoint(note, origin, key)
    except CheckpointInvalid as exc:
        raise LedgerVerificationError(str(exc)) from exc
    if cp.origin != origin:
        raise LedgerVerificationError(f"checkpoint of {cp.origin!r}, not {origin!r}")
    return cp


def verify_inclusion(proof: InclusionProofOut, checkpoint: Checkpoint) -> None:
    """The proof's event is leaf ``leaf_index`` of the tree the checkpoint signs."""
    if proof.tree_size != checkpoint.size or proof.root_hash != checkpoint.root_hash.hex():
        raise LedgerVerificationError("proof is against another tree than the checkpoint")
    if str(proof.event.get("id")) != proof.event_id:
        raise LedgerVerificationError("proof is for another event")
    try:
        merkle.verify_inclusion(
            proof.leaf_index,
            proof.tree_size,
            merkle.leaf_hash(leaf_bytes(proof.event)),
            [bytes.fromhex(h) for h in proof.hashes],
            checkpoint.root_hash,
        )
    except (merkle.ProofInvalid, ValueError) as exc:
        raise LedgerVerificationError(f"inclusion of {proof.event_id}: {exc}") from exc


def verify_consistency(proof: ConsistencyProofOut, old: Checkpoint, new: Checkpoint) -> None:
    """The tree of ``old`` is a prefix of the tree of ``new`` (no split view between them)."""
    if (proof.first, proof.second) != (old.size, new.size):
        raise LedgerVerificationError("proof is between other sizes than the checkpoints")
    if old.size == 0:
        # Every tree extends the empty one: there is nothing to prove (RFC 9162 defines
        # no proof from size 0), only that the old checkpoint really is the empty tree.
        if old.root_hash != merkle.EMPTY_ROOT or proof.hashes:
            raise LedgerVerificationError("the empty tree has the empty root and no proof")
        return
    try:
        merkle.verify_consistency(
            old.size,
            new.size,
            old.root_hash,
            new.root_hash,
            [bytes.fromhex(h) for h in proof.hashes],
        )
    except (merkle.ProofInvalid, ValueError) as exc:
        raise LedgerVerificationError(f"consistency {old.size}->{new.size}: {exc}") from exc

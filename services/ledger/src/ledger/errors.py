"""Errors of the ledger.

DomainError
├── BlockNotFound          404  no block at that height (yet)
├── EventNotInLedger       404  the event is not (yet) in a sealed block
├── TreeSizeOutOfRange     422  a proof asked about a tree the ledger has not reached
└── SequencerConflict      409  a block at that height was already stored (another writer)
"""

from __future__ import annotations

from phr.service.problems import DomainError


class BlockNotFound(DomainError):
    status, title, slug = 404, "Block not found", "block-not-found"


class EventNotInLedger(DomainError):
    status, title, slug = 404, "Event not in the ledger", "event-not-in-ledger"


class TreeSizeOutOfRange(DomainError):
    status, title, slug = 422, "Tree size out of range", "tree-size-out-of-range"


class SequencerConflict(DomainError):
    status, title, slug = 409, "Block already stored", "sequencer-conflict"

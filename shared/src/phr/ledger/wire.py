"""JSON shapes of what the ledger serves (hashes in lowercase hex, bytes in base64)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class BlockOut(_Model):
    height: int
    hash: str
    #: the decoded header, for reading; ``header_bytes`` is what is signed and hashed
    header: dict[str, Any]
    header_bytes: str
    signature: str
    #: RFC 6962 leaf hashes (hex) of the block's events, in leaf order: enough to check
    #: the block and the log without reading an event (event bodies are health data)
    leaf_hashes: list[str]


class InclusionProofOut(_Model):
    event_id: str
    height: int
    leaf_index: int
    tree_size: int
    root_hash: str
    hashes: list[str]
    event: dict[str, Any]


class ConsistencyProofOut(_Model):
    first: int
    second: int
    first_root: str
    second_root: str
    hashes: list[str]


class AuditTrailOut(_Model):
    subject: str
    #: the signed note every proof below leads to
    checkpoint: str
    tree_size: int
    entries: list[InclusionProofOut]


class ChainReport(_Model):
    ok: bool
    blocks: int
    log_size: int
    log_root: str
    errors: list[str]


class LedgerKeyOut(_Model):
    origin: str
    ed25519_public: str
    vkey: str

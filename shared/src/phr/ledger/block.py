"""Block headers and their canonical, versioned bytes (what the ledger signs and hashes).

Layout of version 1 (big-endian, fixed size, so no serializer can change it)::

    magic        16  b"PHR-LEDGER-BLOCK"
    version       1  0x01
    height        8  0 for the first block
    prev_hash    32  SHA-256 of the previous header's bytes (zeros for height 0)
    merkle_root  32  RFC 6962 root of this block's leaves
    count         4  leaves in this block
    log_size      8  leaves in the whole log after this block
    log_root     32  RFC 6962 root of the whole log after this block
    time_us       8  microseconds since the epoch, derived from the events (not a clock)
    first_offset  8  offset of the block's first record in the sequence topic
    next_offset   8  offset after the record that sealed the block

A leaf is the RFC 8785 canonical JSON of the whole envelope, signature included.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from phr.crypto.canonical import canonical_json

BLOCK_MAGIC = b"PHR-LEDGER-BLOCK"
BLOCK_VERSION = 1
_LAYOUT = struct.Struct(">16sBQ32s32sIQ32sQQQ")
HEADER_SIZE = _LAYOUT.size
ZERO_HASH = bytes(32)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BlockInvalid(Exception):
    """Header bytes that are not a block of a version we know."""


def to_micros(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(microseconds=1)


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def leaf_bytes(envelope: dict[str, Any]) -> bytes:
    """The leaf of an event: canonical JSON of its JSON form (signature included)."""
    return canonical_json(envelope)


@dataclass(frozen=True)
class BlockHeader:
    height: int
    prev_hash: bytes
    merkle_root: bytes
    count: int
    log_size: int
    log_root: bytes
    time_us: int
    first_offset: int
    next_offset: int
    version: int = BLOCK_VERSION

    def to_bytes(self) -> bytes:
        if self.version != BLOCK_VERSION:
            raise BlockInvalid(f"cannot encode block version {self.version}")
        return _LAYOUT.pack(
            BLOCK_MAGIC,
            self.version,
            self.height,
            self.prev_hash,
            self.merkle_root,
            self.count,
            self.log_size,
            self.log_root,
            self.time_us,
            self.first_offset,
            self.next_offset,
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> BlockHeader:
        if len(raw) != HEADER_SIZE:
            raise BlockInvalid(f"a version-1 header has {HEADER_SIZE} bytes, not {len(raw)}")
        magic, version, *fields = _LAYOUT.unpack(raw)
        if magic != BLOCK_MAGIC or version != BLOCK_VERSION:
            raise BlockInvalid("not a version-1 ledger block header")
        (height, prev, mroot, count, size, lroot, time_us, first, nxt) = fields
        return cls(height, prev, mroot, count, size, lroot, time_us, first, nxt, version)

    def hash(self) -> bytes:
        """The block's id, which the next block's ``prev_hash`` names."""
        return hashlib.sha256(self.to_bytes()).digest()

    @property
    def time(self) -> datetime:
        return from_micros(self.time_us)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "height": self.height,
            "prev_hash": self.prev_hash.hex(),
            "merkle_root": self.merkle_root.hex(),
            "count": self.count,
            "log_size": self.log_size,
            "log_root": self.log_root.hex(),
            "time": self.time.isoformat(),
            "time_us": self.time_us,
            "first_offset": self.first_offset,
            "next_offset": self.next_offset,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BlockHeader:
        return cls(
            height=int(d["height"]),
            prev_hash=bytes.fromhex(d["prev_hash"]),
            merkle_root=bytes.fromhex(d["merkle_root"]),
            count=int(d["count"]),
            log_size=int(d["log_size"]),
            log_root=bytes.fromhex(d["log_root"]),
            time_us=int(d["time_us"]),
            first_offset=int(d["first_offset"]),
            next_offset=int(d["next_offset"]),
            version=int(d["version"]),
        )

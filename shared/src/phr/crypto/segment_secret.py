"""The per-segment secret that a capsule carries: data key || search key.

Design choice (issue 3, item 5): the capsule wraps one 64-byte secret, the 32-byte
AES-256-GCM data key followed by the 32-byte HMAC-SHA256 search key. Whoever opens
the capsule (the patient, or a grantee with enough cfrags) gets both; nobody else
gets either.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

DATA_KEY_SIZE = 32
SEARCH_KEY_SIZE = 32
SEGMENT_SECRET_SIZE = DATA_KEY_SIZE + SEARCH_KEY_SIZE

RandomBytes = Callable[[int], bytes]
"""Injected randomness (``os.urandom`` by default); tests pass a deterministic one."""


class SegmentSecret:
    """Data key and search key of one segment. Its repr never shows either key."""

    __slots__ = ("_data_key", "_search_key")

    def __init__(self, data_key: bytes, search_key: bytes) -> None:
        if len(data_key) != DATA_KEY_SIZE or len(search_key) != SEARCH_KEY_SIZE:
            raise ValueError("a segment secret is a 32-byte data key and a 32-byte search key")
        self._data_key = bytes(data_key)
        self._search_key = bytes(search_key)

    @classmethod
    def generate(
        cls, rand: RandomBytes = os.urandom, search_key: bytes | None = None
    ) -> SegmentSecret:
        """A fresh data key; the search key is fresh too unless one is given (the owner's)."""
        return cls(rand(DATA_KEY_SIZE), search_key if search_key is not None else rand(32))

    @classmethod
    def from_bytes(cls, raw: bytes) -> SegmentSecret:
        if len(raw) != SEGMENT_SECRET_SIZE:
            raise ValueError("a segment secret has 64 bytes")
        return cls(raw[:DATA_KEY_SIZE], raw[DATA_KEY_SIZE:])

    def to_bytes(self) -> bytes:
        return self._data_key + self._search_key

    @property
    def data_key(self) -> bytes:
        return self._data_key

    @property
    def search_key(self) -> bytes:
        return self._search_key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SegmentSecret):
            return NotImplemented
        return hmac.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self._data_key)

    def __repr__(self) -> str:
        return "SegmentSecret(<secret>)"

    __str__ = __repr__

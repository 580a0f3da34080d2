"""Searchable keyword tags: HMAC-SHA256 under a per-segment search key.

tag = HMAC-SHA256(search_key, "phr-tag/v1" 0x00 || UTF-8(normalise_keyword(keyword)))

The owner (or a contributor) attaches the sorted, de-duplicated tags of a segment;
a data user who holds the search key (it travels in the capsule, see
``phr.crypto.segment_secret``) sends trapdoors, computed the same way; cloud-store
tests trapdoors against tags with :func:`match_trapdoors` and learns only which
trapdoors match. Tags and trapdoors travel as lowercase hex.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable

from phr.crypto.primitives import hmac_sha256

_DOMAIN = b"phr-tag/v1\x00"


def normalise_keyword(keyword: str) -> str:
    """NFKC, case-folded, trimmed, inner whitespace collapsed: "Blood  Sugar" -> "blood sugar"."""
    return " ".join(unicodedata.normalize("NFKC", keyword).casefold().split())


def trapdoor(search_key: bytes, keyword: str) -> str:
    """The tag of one keyword (what a data user sends to search)."""
    if len(search_key) != 32:
        raise ValueError("a search key has 32 bytes")
    return hmac_sha256(search_key, _DOMAIN + normalise_keyword(keyword).encode()).hex()


def keyword_tags(search_key: bytes, keywords: Iterable[str]) -> list[str]:
    """Sorted, unique tags of a segment's keywords (sorted so order leaks nothing)."""
    return sorted({trapdoor(search_key, k) for k in keywords if normalise_keyword(k)})


def match_trapdoors(tags: Collection[str], trapdoors: Iterable[str]) -> list[str]:
    """Cloud-store side: the trapdoors that occur among a segment's tags."""
    tag_set = tags if isinstance(tags, set | frozenset) else set(tags)
    return [t for t in trapdoors if t.lower() in tag_set]

"""Canonical JSON bytes (RFC 8785, JCS) for everything we hash or sign."""

from __future__ import annotations

from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON-compatible value.

    The same value always gives the same bytes, whatever the key order or
    whitespace of its source, so signatures survive re-serialisation.
    """
    return rfc8785.dumps(value)

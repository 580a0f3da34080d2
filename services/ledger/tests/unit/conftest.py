"""What the ledger's unit tests share: the ledger's test key and ``ledger.cut`` markers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ledger.signer import memory_signer
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event
from phr.events.legacy import legacy_event

SIGNER = memory_signer(b"l" * 32)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cut(height: int, key: SigningKey = SIGNER._key, *, pinned: bool = False) -> Envelope:  # noqa: SLF001
    """A ``ledger.cut`` marker for block ``height``; ``pinned`` gives it fixed ids (two
    pinned cuts of one height are the same event) in the legacy spelling (the pinned
    chain digest was made of those), else each is a new event."""
    args: dict[str, Any] = {
        "key": key,
        "source": "ledger",
        "type": "ledger.cut",
        "subject": "ledger",
        "data": {"epoch": 0, "sequence": height},
        "time": T0,
    }
    if pinned:
        ids = {"id": UUID(int=90_000 + height), "correlation_id": UUID(int=90_000)}
        return legacy_event(schema_version=1, **args, **ids)
    return new_event(schemaversion=1, **args)

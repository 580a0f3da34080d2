"""Dump every event topic, reset to an empty deployment, replay: a byte-identical chain.

The replay goes into a second, empty deployment (the ``empty_stack`` fixture) that holds
the same keys, so the session's stack is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from phr.cli.events import DEFAULT_TOPICS, dump_topics, replay_lines
from tests.support.ledger import (
    LEDGER_DBS,
    chain_from_db,
    entries_from_db,
    head,
    ledger_urls,
    make_events,
    producer_key,
    publish,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
async def test_replayed_dump_rebuilds_a_byte_identical_chain(
    stack: Any, empty_stack: Any, tmp_path: Path
) -> None:
    tag = f"replay{uuid4().hex[:8]}"
    events = make_events(producer_key(stack), 500, 9, tag)
    await publish(stack.kafka_bootstrap, list(events))
    url = ledger_urls(stack)[0]

    async def sealed() -> bool:
        done = len(await entries_from_db(stack, LEDGER_DBS[0], tag)) == 500
        return done and (await head(url))["pending"] == 0

    await eventually(sealed, timeout=120, interval=0.5)
    original = await chain_from_db(stack, LEDGER_DBS[0])
    out = tmp_path / "events.ndjson"
    assert await dump_topics(stack.kafka_bootstrap, out, DEFAULT_TOPICS) > 500

    # The same keys (registry), an empty deployment: servers first, the stream, then services.
    empty_stack.secrets_dir.mkdir(parents=True, exist_ok=True)
    for secret in [*stack.secrets_dir.glob("*.ed25519"), *stack.secrets_dir.glob("*.x25519")]:
        (empty_stack.secrets_dir / secret.name).write_bytes(secret.read_bytes())
    assert await replay_lines(empty_stack.kafka_bootstrap, out.read_text().splitlines()) > 500
    empty_stack.up()
    stack = empty_stack

    async def rebuilt() -> list[tuple[bytes, bytes]] | None:
        chain = await chain_from_db(stack, LEDGER_DBS[0], len(original))
        return chain if len(chain) == len(original) else None

    chain = await eventually(rebuilt, timeout=300, interval=1.0)
    assert chain == original  # same header bytes and signatures, block for block
    chain2 = await eventually(
        lambda: _prefix(stack, LEDGER_DBS[1], len(original)), timeout=300, interval=1.0
    )
    assert chain2 == original


async def _prefix(stack: Any, db: str, n: int) -> list[tuple[bytes, bytes]] | None:
    chain = await chain_from_db(stack, db, n)
    return chain if len(chain) == n else None

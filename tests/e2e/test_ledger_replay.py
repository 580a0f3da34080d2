"""Dump every event topic, reset to an empty deployment, replay: a byte-identical chain.

Runs last of the ledger tests: it resets the test stack (data of every server).
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
async def test_replayed_dump_rebuilds_a_byte_identical_chain(stack: Any, tmp_path: Path) -> None:
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

    stack.reset()
    stack.up(services=False)
    assert await replay_lines(stack.kafka_bootstrap, out.read_text().splitlines()) > 500
    stack.up()

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

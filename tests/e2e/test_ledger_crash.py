"""SIGKILL the ledger replicas at random points of a 50,000-event stream: nothing is lost,
duplicated or reordered, and both replicas still hold byte-identical chains."""

from __future__ import annotations

import asyncio
import os
import random
from collections import defaultdict
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.support.ledger import (
    LEDGER_DBS,
    chain_from_db,
    entries_from_db,
    head,
    ledger_urls,
    make_events,
    producer_key,
    publish,
    service_headers,
)
from tests.support.sharing import kill
from tests.support.stack import stack_module
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

TOTAL = 50_000
CHUNK = 5_000


async def short_transaction_lifetime(stack: Any, seconds: int) -> int:
    """A killed process leaves its open transaction holding locks until Mongo aborts it
    (transactionLifetimeLimitSeconds, 60 s by default): the restarted ledger waits that
    long. Shorten it on the test server so the test is quick; returns the old value."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        old = await client.admin.command({"getParameter": 1, "transactionLifetimeLimitSeconds": 1})
        await client.admin.command({"setParameter": 1, "transactionLifetimeLimitSeconds": seconds})
        return int(old["transactionLifetimeLimitSeconds"])
    finally:
        await client.close()


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(url + "/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(600)
async def test_killed_ledgers_lose_duplicate_and_reorder_nothing(isolated_stack: Any) -> None:
    stack = isolated_stack
    rng = random.Random(int.from_bytes(os.urandom(4)))
    tag = f"crash{uuid4().hex[:8]}"
    events = make_events(producer_key(stack), TOTAL, 50, tag)
    specs = {s.name: s for s in stack_module().SERVICES}
    urls = dict(zip(("ledger", "ledger-2"), ledger_urls(stack), strict=True))
    kills = 0
    old_lifetime = await short_transaction_lifetime(stack, 3)
    for start in range(0, TOTAL, CHUNK):
        await publish(stack.kafka_bootstrap, list(events[start : start + CHUNK]))
        if rng.random() < 0.6:
            victim = rng.choice(["ledger", "ledger-2"])
            await asyncio.sleep(rng.uniform(0.0, 1.5))  # a random point of the stream
            await kill(stack, victim)
            kills += 1
            stack.start_service(specs[victim])
            await eventually(lambda v=victim: ready(urls[v]), timeout=120, interval=0.2)
    if kills == 0:  # always crash at least once
        await kill(stack, "ledger")
        stack.start_service(specs["ledger"])
        await eventually(lambda: ready(urls["ledger"]), timeout=60, interval=0.2)

    async def all_sealed() -> bool:
        for db in LEDGER_DBS:
            if len(await entries_from_db(stack, db, tag)) < TOTAL:
                return False
        return True

    try:
        await eventually(all_sealed, timeout=300, interval=1.0)
    finally:
        await short_transaction_lifetime(stack, old_lifetime)
    want = [str(e.id) for e in events]
    per_subject: dict[str, list[str]] = defaultdict(list)
    for e in events:
        per_subject[e.subject].append(str(e.id))
    orders = []
    for db in LEDGER_DBS:
        entries = await entries_from_db(stack, db, tag)
        ids = [d["e"] for d in entries]
        assert len(ids) == TOTAL == len(set(ids)) and set(ids) == set(want)  # no loss, no dup
        got: dict[str, list[str]] = defaultdict(list)
        for d in entries:
            got[d["s"]].append(d["e"])
        assert got == per_subject  # each patient's events in the order they were published
        orders.append(ids)
    assert orders[0] == orders[1]
    heads = [await head(u) for u in urls.values()]
    upto = min(h["height"] for h in heads) + 1
    assert await chain_from_db(stack, LEDGER_DBS[0], upto) == await chain_from_db(
        stack, LEDGER_DBS[1], upto
    )
    async with httpx.AsyncClient(timeout=120) as client:
        for url in urls.values():
            report = (await client.get(url + "/v1/verify", headers=service_headers(stack))).json()
            assert report["ok"], report

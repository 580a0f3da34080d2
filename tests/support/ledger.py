"""Helpers for the ledger's end-to-end tests: a fast signed-event producer, chain reads."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from phr.crypto.signing import SigningKey
from phr.events.catalog import TOPIC_RECORDS
from phr.events.envelope import Envelope
from phr.identity.tokens import TokenSigner
from phr.scenario import record_deleted_events
from tests.support.stack import stack_module


def producer_key(stack: Any, name: str = "owner-api") -> SigningKey:
    """A registered service's key (the registry lists its public half)."""
    return SigningKey.from_seed(bytes.fromhex(stack.signing_key_file(name).read_text()))


#: signed ``record.deleted`` events (a ledger load), as the benchmarks make them
make_events = record_deleted_events


async def publish(
    bootstrap: str, events: list[Envelope | bytes], topic: str = TOPIC_RECORDS
) -> None:
    """Batched produce (not one request per event), keyed by subject like the services."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        sends = []
        for ev in events:
            if isinstance(ev, Envelope):
                value, key = ev.to_json_bytes(), ev.subject.encode()
            else:
                value, key = ev, b"junk"
            sends.append(await producer.send(topic, value, key=key))
            if len(sends) >= 2000:
                await asyncio.gather(*sends)
                sends.clear()
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


def ledger_urls(stack: Any) -> list[str]:
    specs = {s.name: s for s in stack_module().SERVICES}
    return [stack.service_url(specs["ledger"]), stack.service_url(specs["ledger-2"])]


async def head(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        resp = await client.get(url + "/v1/head")
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data


async def chain_from_db(
    stack: Any, database: str, upto: int | None = None
) -> list[tuple[bytes, bytes]]:
    """(header bytes, signature) of every stored block, in height order."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        q: dict[str, Any] = {} if upto is None else {"_id": {"$lt": upto}}
        cursor = client[database]["blocks"].find(q).sort("_id", 1)
        return [(bytes(d["header"]), bytes(d["sig"])) async for d in cursor]
    finally:
        await client.close()


async def entries_from_db(stack: Any, database: str, prefix: str) -> list[dict[str, Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url)
    try:
        q = {"s": {"$regex": f"^{prefix}"}}
        cursor = client[database]["entries"].find(q, {"leaf": 0}).sort("_id", 1)
        return [d async for d in cursor]
    finally:
        await client.close()


LEDGER_DBS = ("phr_ledger", "phr_ledger_2")


def service_headers(stack: Any, name: str = "owner-api") -> dict[str, str]:
    """A service's bearer token (services read every ledger event, as auditors do)."""
    token = TokenSigner(producer_key(stack, name), name).mint_service("ledger")
    return {"Authorization": f"Bearer {token}"}

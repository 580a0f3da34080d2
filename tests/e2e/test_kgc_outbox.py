"""The KGC's outbox: a revocation made while the broker is down is announced once it is back.

The KGC writes a user's new status and his ``user.revoked`` event in one Mongo
transaction; a lifespan task relays the event. Here the broker is stopped before the
revocation: the request still succeeds (its write does not wait for Kafka), a retry
writes no second event, and the event arrives after the broker has come back, well
after the request returned. A deployment of its own (servers and the KGC process
only), because stopping a memory-engine broker wipes every topic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.events.catalog import TOPIC_REVOCATIONS
from phr.events.envelope import Envelope
from phr.service.kafka import kafka_consumer
from phr.service.settings import KafkaSettings
from tests.support.identity import KgcClient, load_operator, service_url
from tests.support.records import mongo
from tests.support.stack import stack_module, test_stack
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def kgc_only() -> Iterator[Any]:
    s = test_stack(extra_offset=170)
    s.reset()
    try:
        s.up(services=False)
        spec = next(x for x in stack_module().SERVICES if x.name == "kgc")
        s.start_service(spec)
        deadline = time.monotonic() + 90
        while not s.ready(spec)[0]:
            assert time.monotonic() < deadline, s.ready(spec)[1]
            time.sleep(0.2)
        yield s
    finally:
        s.reset()


async def revocations_of(stack: Any, user_id: str) -> list[Envelope]:
    """Every ``user.revoked`` event about ``user_id`` on the broker (read from the start)."""
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    found: list[Envelope] = []
    async with kafka_consumer(kafka, [TOPIC_REVOCATIONS], f"probe-{uuid4().hex[:8]}") as c:
        for _ in range(6):
            batch = await c.getmany(timeout_ms=500)
            events = [Envelope.from_json_bytes(r.value or b"") for rs in batch.values() for r in rs]
            found += [e for e in events if e.subject == user_id and e.type == "user.revoked"]
    return found


async def test_a_revocation_made_while_the_broker_is_down_arrives_after_it_returns(
    kgc_only: Any,
) -> None:
    stack = kgc_only
    async with httpx.AsyncClient(timeout=15) as http:
        kgc = KgcClient(http, service_url(stack, "kgc"))
        admin = await kgc.login(load_operator(stack))
        patient = await kgc.enrol("patient")

        stack.stop("tansu")
        assert stack.pid("tansu") is None
        r = await kgc.revoke(admin, patient.user_id, "lost phone")
        assert r.status_code == 200 and r.json()["status"] == "revoked"
        # A retry (the client did not see the first answer) answers the same, writes no
        # second event, and does not wait for the broker either.
        again = await kgc.revoke(admin, patient.user_id, "lost phone")
        assert again.status_code == 200 and again.json()["status"] == "revoked"
        returned_at = time.time()

    async with mongo(stack) as client:
        outbox = client["phr_kgc"]["outbox"]
        docs = await outbox.find({"_id": f"user.revoked:{patient.user_id}"}).to_list()
        assert len(docs) == 1 and docs[0]["sent_at"] is None  # written, not sent: no broker

        stack.start_kafka()

        async def relayed() -> bool:
            doc = await outbox.find_one({"_id": f"user.revoked:{patient.user_id}"})
            return doc is not None and doc["sent_at"] is not None

        await eventually(relayed, timeout=60, interval=0.5)

    got = await revocations_of(stack, patient.user_id)
    assert {str(e.id) for e in got} == {docs[0]["event_id"]}  # the one event, no twin
    assert got[0].time.timestamp() < returned_at  # built at the write, before the answer
    assert got[0].data["reason"] == "lost phone"

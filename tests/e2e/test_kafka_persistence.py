"""`make run` keeps Kafka on S3: Tansu's S3 engine keeps events across a broker restart.

The test profile runs Tansu on its memory engine (see Stack.kafka_storage); this test
starts a deployment of its own on the S3 engine, the one `make run` uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from phr.crypto.signing import SigningKey
from phr.events.catalog import spec_for
from phr.events.envelope import Envelope
from phr.events.system import ServiceStarted
from phr.service.kafka import kafka_consumer, kafka_producer
from phr.service.settings import KafkaSettings
from tests.support.stack import test_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def s3_kafka_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("PHR_KAFKA_STORAGE", "s3")
    s = test_stack(extra_offset=150)
    s.reset()
    try:
        s.up(services=False)
        yield s
    finally:
        s.reset()


def broker_cmdline(stack: Any) -> list[bytes]:
    return Path(f"/proc/{stack.pid('tansu')}/cmdline").read_bytes().split(b"\0")


async def test_events_survive_a_broker_restart_on_s3(s3_kafka_stack: Any) -> None:
    stack = s3_kafka_stack
    assert b"s3://tansu/" in broker_cmdline(stack)
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    topic = f"phr.persist.{uuid4().hex[:8]}"
    event = spec_for("service.started").make(
        ServiceStarted(service="probe", instance="i", version="1"),
        key=SigningKey.generate(),
        source="probe",
        subject="probe",
    )
    async with kafka_producer(kafka) as pub:
        await pub.publish(event, topic=topic)

    stack.stop("tansu")
    assert stack.pid("tansu") is None
    stack.start_kafka()

    async with kafka_consumer(kafka, [topic], f"g-{uuid4().hex[:8]}") as consumer:
        got: list[Envelope] = []
        for _ in range(40):
            batch = await consumer.getmany(timeout_ms=500)
            got += [Envelope.from_json_bytes(r.value or b"") for rs in batch.values() for r in rs]
            if got:
                break
    assert [e.id for e in got] == [event.id]

"""`phr events`: record every event topic to NDJSON and replay it into a deployment.

The dump keeps, per record, its topic, partition, offset, key, headers and value, plus
each topic's partition count; replay recreates the topics with those counts and writes
each record to the same partition in offset order, so an empty deployment receives the
same per-partition streams (and the ledger's sequence topic the same order).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from phr.events.catalog import TOPIC_DEADLETTER, TOPICS

app = typer.Typer(help="Record and replay the event topics.", no_args_is_help=True)

#: the ledger's single-partition ordering topic (ledger.settings.SEQUENCE_TOPIC)
SEQUENCE_TOPIC = "phr.ledger.sequence"
DEFAULT_TOPICS = [*sorted(TOPICS), TOPIC_DEADLETTER, SEQUENCE_TOPIC]

Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers (env PHR_KAFKA)")
]


def _bootstrap(value: str | None) -> str:
    return value or os.environ.get("PHR_KAFKA", "127.0.0.1:9092")


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


async def dump_topics(bootstrap: str, out: Path, topics: list[str]) -> int:
    """Write every record of ``topics`` present now; returns how many."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    count = 0
    try:
        existing = await consumer.topics()
        parts = {t: sorted(consumer.partitions_for_topic(t) or ()) for t in topics if t in existing}
        tps = [TopicPartition(t, p) for t, ps in parts.items() for p in ps]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        with out.open("w") as fh:
            fh.write(
                json.dumps({"kind": "topics", "partitions": {t: len(p) for t, p in parts.items()}})
                + "\n"
            )
            for tp in tps:
                pos = begins[tp]
                consumer.seek(tp, pos)
                # Read to the end offset, and on until the partition stays quiet: a
                # broker may report a stale end (Tansu does), and gaps (control records)
                # must not hang the dump.
                idle = 0
                while idle < (2 if pos >= ends[tp] else 5):
                    batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                    idle = 0 if batch.get(tp) else idle + 1
                    for r in batch.get(tp, []):
                        pos = r.offset + 1
                        rec: dict[str, Any] = {
                            "kind": "record",
                            "topic": tp.topic,
                            "partition": tp.partition,
                            "offset": r.offset,
                            "timestamp": r.timestamp,
                            "key": _b64(r.key),
                            "value": _b64(r.value),
                            "headers": [[k, _b64(v)] for k, v in (r.headers or ())],
                        }
                        fh.write(json.dumps(rec) + "\n")
                        count += 1
    finally:
        await consumer.stop()
    return count


async def replay_lines(bootstrap: str, lines: list[str]) -> int:
    """Produce every recorded record to its topic and partition, in order."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    meta = json.loads(lines[0])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for topic, n in meta["partitions"].items():
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=n, replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    count = 0
    try:
        sends = []
        for line in lines[1:]:
            rec = json.loads(line)
            headers = [(k, _unb64(v) or b"") for k, v in rec["headers"]]
            sends.append(
                await producer.send(
                    rec["topic"],
                    _unb64(rec["value"]),
                    key=_unb64(rec["key"]),
                    partition=rec["partition"],
                    headers=headers,
                )
            )
            count += 1
            if len(sends) >= 5000:
                await asyncio.gather(*sends)
                sends.clear()
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return count


@app.command("dump")
def dump(
    output: Annotated[Path, typer.Option("-o", "--output", help="NDJSON file to write")],
    bootstrap: Bootstrap = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", help="default: all")] = None,
) -> None:
    """Record every event topic (keys, headers, offsets) to an NDJSON file.

    Example: uv run phr events dump -o events.ndjson --bootstrap 127.0.0.1:9092
    """
    n = asyncio.run(dump_topics(_bootstrap(bootstrap), output, topic or DEFAULT_TOPICS))
    typer.echo(f"dumped {n} records to {output}")


@app.command("replay")
def replay(
    file: Annotated[Path, typer.Argument(help="NDJSON written by `phr events dump`")],
    bootstrap: Bootstrap = None,
) -> None:
    """Feed a dump into a (normally empty) deployment, partition by partition, in order.

    Example: uv run phr events replay events.ndjson --bootstrap 127.0.0.1:9092
    """
    n = asyncio.run(replay_lines(_bootstrap(bootstrap), file.read_text().splitlines()))
    typer.echo(f"replayed {n} records from {file}")

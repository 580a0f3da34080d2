"""Capture records from a broker and replay a capture into one (aiokafka, lazily imported).

Replay keeps each record's topic, partition, key, headers and value, and writes each
partition's records in offset order; with a pace it sleeps so that records leave at
their original spacing (divided by the speed factor), merged across partitions by
timestamp. A replay refuses a target whose topics already hold records, unless forced.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phr.capture.format import CapturedRecord, b64


@dataclass(frozen=True)
class Until:
    """Where a replay stops: at an offset (per partition, inclusive) or a record time."""

    offset: int | None = None
    time_ms: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> Until | None:
        if not text:
            return None
        if text.isascii() and text.isdigit():
            return cls(offset=int(text))
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"--until takes an offset or an ISO 8601 time, not {text!r}") from exc
        if when.tzinfo is None:
            raise ValueError("--until needs a time zone (e.g. 2026-12-01T10:00:00Z)")
        return cls(time_ms=int(when.timestamp() * 1000))

    def admits(self, rec: CapturedRecord) -> bool:
        if self.offset is not None and rec.offset > self.offset:
            return False
        return not (self.time_ms is not None and (rec.timestamp or 0) > self.time_ms)


def select(records: Iterable[CapturedRecord], until: Until | None) -> list[CapturedRecord]:
    """The records a replay sends, in send order: timestamp order across partitions,
    offset order within each (a merge, so per-partition order always holds)."""
    chosen = [r for r in records if until is None or until.admits(r)]
    by_tp: dict[tuple[str, int], list[CapturedRecord]] = {}
    for r in chosen:
        by_tp.setdefault((r.topic, r.partition), []).append(r)
    for recs in by_tp.values():
        recs.sort(key=lambda r: r.offset)
    return list(heapq.merge(*by_tp.values(), key=lambda r: r.timestamp or 0))


async def _consumer(bootstrap: str) -> Any:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await _started(consumer)
    return consumer


async def _started(client: Any) -> None:
    """Start an aiokafka client; if it cannot (no broker), close it before raising, so a
    refused bootstrap leaks no client (and no "unclosed consumer" at exit)."""
    try:
        await client.start()
    except BaseException:
        await (client.close() if hasattr(client, "close") else client.stop())
        raise


async def topic_sizes(bootstrap: str, topics: Sequence[str]) -> dict[str, int]:
    """Records present per topic (end - beginning offsets), for the emptiness check."""
    from aiokafka import TopicPartition

    consumer = await _consumer(bootstrap)
    try:
        existing = await consumer.topics()
        tps = [
            TopicPartition(t, p)
            for t in topics
            if t in existing
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not tps:
            return {}
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        sizes: dict[str, int] = {}
        for tp in tps:
            sizes[tp.topic] = sizes.get(tp.topic, 0) + ends[tp] - begins[tp]
        return {t: n for t, n in sizes.items() if n}
    finally:
        await consumer.stop()


async def read_records(
    bootstrap: str,
    topics: Sequence[str],
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
) -> tuple[dict[str, int], list[CapturedRecord]]:
    """Partition counts and every record of ``topics`` present now, within the filters."""
    from aiokafka import TopicPartition

    consumer = await _consumer(bootstrap)
    out: list[CapturedRecord] = []
    try:
        existing = await consumer.topics()
        parts = {t: sorted(consumer.partitions_for_topic(t) or ()) for t in topics if t in existing}
        tps = [TopicPartition(t, p) for t, ps in parts.items() for p in ps]
        if not tps:
            return {}, []
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        for tp in tps:
            pos = max(begins[tp], from_offset or 0)
            consumer.seek(tp, pos)
            # Read to the end offset, and on until the partition stays quiet: a broker
            # may report a stale end (Tansu does), and gaps must not hang the capture.
            idle = 0
            while idle < (2 if pos >= ends[tp] else 5):
                batch = await consumer.getmany(tp, timeout_ms=500, max_records=5000)
                idle = 0 if batch.get(tp) else idle + 1
                for r in batch.get(tp, []):
                    pos = r.offset + 1
                    if to_offset is not None and r.offset > to_offset:
                        idle = 99
                        break
                    if since_ms is not None and r.timestamp < since_ms:
                        continue
                    if until_ms is not None and r.timestamp > until_ms:
                        continue
                    out.append(
                        CapturedRecord(
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=r.offset,
                            timestamp=r.timestamp,
                            key=b64(r.key),
                            value=b64(r.value),
                            headers=[(k, b64(v)) for k, v in (r.headers or ())],
                        )
                    )
    finally:
        await consumer.stop()
    return {t: len(p) for t, p in parts.items()}, out


async def ensure_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await _started(admin)
    try:
        for topic, n in partitions.items():
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=n, replication_factor=1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def send_records(
    bootstrap: str,
    records: Sequence[CapturedRecord],
    *,
    speed: float | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> float:
    """Produce ``records`` in the given order; returns the seconds it took.

    ``speed`` None sends as fast as the broker takes them; otherwise the gap between two
    records' timestamps is slept, divided by ``speed`` (1.0 is the original pacing).
    """
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await _started(producer)
    started = time.monotonic()
    try:
        pending: list[Any] = []
        first_ts = records[0].timestamp or 0 if records else 0
        for i, rec in enumerate(records):
            if speed is not None:
                due = ((rec.timestamp or first_ts) - first_ts) / 1000 / speed
                wait = due - (time.monotonic() - started)
                if wait > 0:
                    await asyncio.gather(*pending)
                    pending.clear()
                    await asyncio.sleep(wait)
            pending.append(
                await producer.send(
                    rec.topic,
                    rec.value_bytes,
                    key=rec.key_bytes,
                    partition=rec.partition,
                    headers=rec.header_pairs(),
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
            if on_progress is not None:
                on_progress(i + 1)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def dump_all(bootstrap: str, out: Path, topics: Sequence[str]) -> int:
    """Capture every record of ``topics`` now present to ``out`` (no keys in the header:
    for backups, whose restore trusts its own secrets); returns how many."""
    from phr.capture.format import CaptureFilters, CaptureHeader, write_capture

    partitions, records = await read_records(bootstrap, topics)
    header = CaptureHeader(
        created=datetime.now(UTC), partitions=partitions, filters=CaptureFilters(topics=topics)
    )
    return write_capture(out, header, records)


async def replay_all(bootstrap: str, path: Path) -> int:
    """Write every record of a capture back, dead letters included (restores)."""
    from phr.capture.format import read_capture

    capture = read_capture(path)
    await ensure_topics(bootstrap, capture.header.partitions)
    chosen = select(capture.records, None)
    await send_records(bootstrap, chosen)
    return len(chosen)

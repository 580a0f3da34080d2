"""Every record of every topic, read with aiokafka from the beginning, and the part of it
a scenario caused.

Tansu's end offsets are not trusted (after batched sends they have lagged behind what a
fetch returns), so a read ends after a quiet period instead: no new record for
``quiet_s``. Each read goes on where the last one stopped and picks up topics created
since (the dead-letter topic appears with its first record).

The session stack is shared: earlier tests put records of their own on the topics on
purpose (garbage, forged and legacy envelopes, topics of their own). :func:`caused_since`
keeps what was written from a moment on, by the record's Kafka timestamp (its
producer's clock: this machine's): records written since then, except the relay's
copies of earlier records (traced by their ``phr-origin`` header) and the dead letters
of those copies (keyed by their offset on the sequence topic). A copy or a dead letter
is left out only when it is traced to an earlier record, so a malformed ``phr-origin``
or key keeps a record in, never hides it. Tests run one after another, so what an
earlier test wrote itself is written before the moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from phr.events.catalog import ORIGIN_HEADER, TOPIC_DEADLETTER, TOPIC_LEDGER_SEQUENCE
from tests.support.asyncapi import Record

Position = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True)
class Seen:
    """One record as the broker gave it back."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def position(self) -> Position:
        return (self.topic, self.partition, self.offset)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return values[0].decode("utf-8", "replace") if len(values) == 1 else None

    def as_record(self) -> Record:
        return Record(self.topic, self.headers, self.key, self.value)


class StreamReader:
    """Every partition of every topic, read without a consumer group.

    Each :meth:`read` starts a consumer of its own: its bootstrap metadata names every
    topic there is then (a running consumer's cached metadata would miss a topic created
    since, such as the dead-letter topic at its first record)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.records: dict[Position, Seen] = {}
        self._next: dict[TopicPartition, int] = {}

    async def read(self, quiet_s: float = 1.5, max_s: float = 30.0) -> int:
        """Read on until ``quiet_s`` pass without a new record (at most ``max_s``);
        the number of new records."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            return await self._read(consumer, quiet_s, max_s)
        finally:
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer, quiet_s: float, max_s: float) -> int:
        topics = sorted(await consumer.topics())
        parts = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        if not parts:
            return 0
        consumer.assign(parts)
        for tp in parts:
            if tp in self._next:
                consumer.seek(tp, self._next[tp])
            else:
                await consumer.seek_to_beginning(tp)
        new = 0
        started = last = time.monotonic()
        while time.monotonic() - last < quiet_s and time.monotonic() - started < max_s:
            batch = await consumer.getmany(timeout_ms=300, max_records=5000)
            for tp, got in batch.items():
                for r in got:
                    seen = Seen(
                        tp.topic,
                        tp.partition,
                        r.offset,
                        r.timestamp,
                        r.key,
                        r.value or b"",
                        tuple(r.headers or ()),
                    )
                    if seen.position not in self.records:
                        self.records[seen.position] = seen
                        new += 1
                    self._next[tp] = max(self._next.get(tp, 0), r.offset + 1)
                last = time.monotonic()
        return new


def _origin(seen: Seen) -> Position | None:
    text = seen.header(ORIGIN_HEADER)
    topic, _, rest = (text or "").partition("/")
    partition, _, offset = rest.partition("/")
    if not (topic and partition.isdigit() and offset.isdigit()):
        return None
    return (topic, int(partition), int(offset))


def caused_since(records: Iterable[Seen], since_ms: int) -> list[Seen]:
    """The records the system wrote from ``since_ms`` on (see the module's docstring),
    in topic, partition and offset order."""
    every = {s.position: s for s in records}
    earlier = {p for p, s in every.items() if s.timestamp_ms < since_ms}

    def traced_to_earlier(position: Position | None) -> bool:
        return position is not None and position in earlier

    # event topics first, then the copies of their records, then the copies' dead letters
    rank = {TOPIC_LEDGER_SEQUENCE: 1, TOPIC_DEADLETTER: 2}
    later = sorted(
        (s for s in every.values() if s.timestamp_ms >= since_ms),
        key=lambda s: (rank.get(s.topic, 0), s.position),
    )
    out: list[Seen] = []
    for s in later:
        if s.topic == TOPIC_LEDGER_SEQUENCE:
            source = _origin(s)
        elif s.topic == TOPIC_DEADLETTER:
            key = (s.key or b"").decode("ascii", "replace")
            source = (TOPIC_LEDGER_SEQUENCE, 0, int(key)) if key.isdigit() else None
        else:
            source = None
        if traced_to_earlier(source):
            earlier.add(s.position)  # so its own dead letters are left out too
            continue
        out.append(s)
    return sorted(out, key=lambda s: s.position)


async def read_until(
    reader: StreamReader, missing: Callable[[], list[str]], timeout_s: float = 90.0
) -> None:
    """Read until ``missing()`` is empty after a quiet read; AssertionError naming what
    is still missing at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        await reader.read()
        gaps = missing()
        if not gaps:
            await reader.read()  # what is still on its way (a second replica's letter)
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"after {len(reader.records)} records the stream still lacks: {gaps[:20]}"
            )
        await asyncio.sleep(0.2)

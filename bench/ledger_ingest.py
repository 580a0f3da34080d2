"""Ledger benchmark: ingest rate (Kafka -> sealed, stored blocks) and proofs on 1M events.

    uv run python bench/ledger_ingest.py            # prints one JSON object

Starts the servers (mongod, SeaweedFS, Tansu; no services) of the test profile moved by
PHR_PORT_OFFSET (default 700 here), fills a fresh sequence topic with signed events, and
runs the ledger's own stream -> sequencer -> MongoStore path in this process with a
verifier process pool. The 1M-event log for the proof figures is built from synthetic
leaves (same storage, same code) because signing and verifying 1M events would take
minutes without measuring anything new. BENCH_LEDGER_LOG=0 skips the proof figures.

Besides the wall-clock rate (noisy on a shared machine) it prints the CPU time per
ingested event of each process taking part: this one, the verifier pool, mongod, Tansu.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PHR_PORT_OFFSET", "700")

import psutil  # noqa: E402
import structlog  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402

from bench.cast import local_stack  # noqa: E402
from ledger.intake import Intake, Verdict  # noqa: E402
from ledger.keys import StaticProducerKeys  # noqa: E402
from ledger.reader import LedgerReader  # noqa: E402
from ledger.sequencer import SeqRecord, Sequencer  # noqa: E402
from ledger.signer import Ed25519Signer  # noqa: E402
from ledger.store import MongoStore  # noqa: E402
from ledger.stream import ensure_sequence_topic, run_sequence_stream  # noqa: E402
from phr.crypto.signing import SigningKey  # noqa: E402
from phr.scenario import record_deleted_events  # noqa: E402
from phr.service.settings import KafkaSettings  # noqa: E402

INGEST_EVENTS = int(os.environ.get("BENCH_LEDGER_EVENTS", "40000"))
LOG_SIZE = int(os.environ.get("BENCH_LEDGER_LOG", "1000000"))


def _cpu_s(pids: dict[str, list[int]]) -> dict[str, float]:
    """User + system CPU seconds so far of each named group of processes."""
    out: dict[str, float] = {}
    for name, group in pids.items():
        total = 0.0
        for pid in group:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        out[name] = total
    return out


async def ingest(stack: Any, db: Any) -> tuple[float, dict[str, float]]:
    producer_key, ledger_key = SigningKey.generate(), SigningKey.generate()
    signer = Ed25519Signer(ledger_key)
    keys = StaticProducerKeys()
    keys.add(producer_key.verify_key, "owner-api")
    topic = f"bench.ledger.sequence.{uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    await ensure_sequence_topic(kafka, topic)
    events = record_deleted_events(producer_key, INGEST_EVENTS, 1000, "bench")
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    sends = [await producer.send(topic, e.to_json_bytes(), partition=0) for e in events]
    await asyncio.gather(*sends)
    await producer.stop()

    workers = os.cpu_count() or 2
    intake = Intake(keys.as_table(), signer.public.fingerprint(), workers)
    await intake.check([events[0].to_json_bytes()] * 64 * workers)  # warm the pool
    store = MongoStore(db)
    await store.ensure_indexes()
    sequencer = Sequencer(store, signer, 512)
    pool = intake.pool
    pids = {
        "ledger": [os.getpid()],
        "verifiers": [p.pid for p in (pool._processes or {}).values()] if pool else [],
        "mongod": [p for p in [stack.pid("mongod")] if p],
        "kafka": [p for p in [stack.pid("tansu")] if p],
    }
    cpu0 = _cpu_s(pids)
    t0 = time.perf_counter()
    task = asyncio.create_task(run_sequence_stream(kafka, topic, sequencer, intake, None, 4000))
    # sequencer.head is the stored head: the clock stops once the last block is in Mongo.
    while sequencer.head.log_size < INGEST_EVENTS - INGEST_EVENTS % 512:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - t0
    cpu1 = _cpu_s(pids)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    intake.close()
    n = sequencer.head.log_size
    cpu_us = {k: round((cpu1[k] - cpu0[k]) / n * 1e6, 1) for k in pids}
    cpu_us["total"] = round(sum(cpu_us.values()), 1)
    return n / elapsed, cpu_us


async def proofs(db: Any) -> tuple[float, int, float]:
    signer = Ed25519Signer(SigningKey.generate())
    store = MongoStore(db)
    await store.ensure_indexes()
    sequencer = Sequencer(store, signer, 8192)
    await sequencer.load()
    rng = random.Random(7)
    t0 = time.perf_counter()
    batch = 8192
    for start in range(0, LOG_SIZE, batch):
        n = min(batch, LOG_SIZE - start)
        recs = [SeqRecord(start + i, b"") for i in range(n)]
        verdicts = [
            Verdict(
                "event",
                event_id=f"e{start + i}",
                subject=f"p{(start + i) % 5000}",
                time_us=start + i,
                leaf=json.dumps({"id": f"e{start + i}", "pad": rng.randbytes(120).hex()}).encode(),
            )
            for i in range(n)
        ]
        await sequencer.apply(recs, verdicts)
    build_s = time.perf_counter() - t0
    reader = LedgerReader(store, signer, "bench")
    size = sequencer.head.log_size
    times, sizes = [], []
    for _ in range(300):
        eid = f"e{rng.randrange(size)}"
        t = time.perf_counter()
        proof = await reader.inclusion(eid, size)
        times.append((time.perf_counter() - t) * 1000)
        sizes.append(len(proof.hashes) * 32)
    return statistics.median(times), int(statistics.median(sizes)), build_s


async def main() -> None:
    # The service logs at info; a debug line per sealed block would cost this process.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    stack = local_stack()
    stack.up(services=False)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_url, tz_aware=True)
    try:
        name = f"bench_ledger_{uuid4().hex[:6]}"
        rate, cpu_us = await ingest(stack, client[name])
        await client.drop_database(name)
        proof_ms, proof_bytes, build_s = 0.0, 0, 0.0
        if LOG_SIZE > 0:
            name = f"bench_ledger_{uuid4().hex[:6]}"
            proof_ms, proof_bytes, build_s = await proofs(client[name])
            await client.drop_database(name)
    finally:
        await client.close()
    print(
        json.dumps(
            {
                "ingest_events_per_s": round(rate),
                "ingest_events": INGEST_EVENTS,
                "verify_workers": os.cpu_count(),
                # CPU microseconds per ingested event, by process (noise-resistant)
                "ingest_cpu_us_per_event": cpu_us,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "inclusion_proof_ms_1m": round(proof_ms, 3),
                "proof_bytes_1m": proof_bytes,
                "log_size": LOG_SIZE,
                "build_1m_log_s": round(build_s, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())

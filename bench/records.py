"""Record upload figures through owner-api and cloud-store, against a running stack.

    PHR_PORT_OFFSET=900 uv run python bench/records.py --profile test

- ``upload_2mb_p50_ms``: turnaround of one ~2 MB FHIR record (the Synthea fixture grown
  to 2 MB of JSON), from the Bundle in memory to the committed upload: client-side
  split, encryption, capsules, tags and signature included (FHIR schema validation
  excluded: it alone costs ~0.5 s; its figure is ``validate_2mb_ms``). Median of ``--n``.
- ``upload_2mb_client_cpu_p50_ms``: CPU time of the uploading process per upload
  (split, JSON, keywords, encryption, HTTP); ``encrypt_2mb_cpu_p50_ms`` the
  encryption alone. CPU figures are steadier than wall time on a shared machine.
- ``upload_2mb_server_cpu_ms``: CPU milliseconds per upload of each process of the
  stack (from /proc) over the timed uploads, background work (events) included.
- ``upload_1mib_records_per_s``: 1 MiB records (one segment of 1 MiB ciphertext each,
  encrypted beforehand) uploaded by ``--concurrency`` clients at once.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cast import local_stack, scenario_of  # noqa: E402
from phr.client import encrypt_record, encrypt_segment  # noqa: E402
from phr.crypto.manifest import RecordManifest, sign_manifest  # noqa: E402
from phr.crypto.stream import SegmentContext  # noqa: E402
from phr.fhir.synthetic import load_bundle  # noqa: E402, I001
from phr.fhir.validate import validate_bundle  # noqa: E402
from phr.scenario import FIXTURE, Person  # noqa: E402
from phr.sdk.records import RecordsClient, new_record_id  # noqa: E402

MB = 10**6
MIB = 1 << 20
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu(stack: Any) -> dict[str, float]:
    """CPU seconds used so far by each running process of ``stack`` (Linux /proc)."""
    out: dict[str, float] = {}
    for pidfile in sorted(Path(stack.run_dir).glob("*.pid")):
        pid = stack.pid(pidfile.stem)
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # utime, stime, cutime, cstime (children: mongod's and the servers' helpers)
        out[pidfile.stem] = sum(int(f) for f in fields[11:15]) / _TICKS
    return out


def cpu_per_op(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """Milliseconds of CPU per operation of each process, busiest first."""
    per = {k: (after[k] - before[k]) * 1000 / n for k in after if k in before}
    return {k: round(v, 1) for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v > 0}


def bundle_of(size: int) -> dict[str, Any]:
    """The fixture, its observations repeated (new ids) until its JSON reaches ``size``."""
    bundle = load_bundle(FIXTURE)
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    n = 0
    while len(json.dumps(bundle)) < size:
        for entry in observations[:50]:
            extra = copy.deepcopy(entry)
            extra["resource"]["id"] = f"{extra['resource']['id']}-x{n}"
            extra["fullUrl"] = f"urn:uuid:{extra['resource']['id']}"
            bundle["entry"].append(extra)
            n += 1
    return bundle


async def upload_2mb(
    client: RecordsClient, patient: Person, n: int, stack: Any = None
) -> dict[str, Any]:
    bundle = bundle_of(2 * MB)
    times, cpu, enc, enc_cpu = [], [], [], []
    server: dict[str, float] = {}
    for i in range(n + 2):
        if i == 2 and stack is not None:  # two warm-ups
            server = process_cpu(stack)
        c0 = time.process_time()
        t0 = time.perf_counter()
        await client.upload_record(
            bundle,
            patient_id=patient.id,
            keys=patient.owner_keys(),
            author=patient.keys.signing,
            validate=False,
        )
        if i >= 2:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    if server:
        server = cpu_per_op(server, process_cpu(stack), n)
    for _ in range(n):
        c1 = time.process_time()
        t1 = time.perf_counter()
        encrypt_record(
            bundle,
            patient_id=patient.id,
            record_id="r",
            keys=patient.owner_keys(),
            author=patient.keys.signing,
            validate=False,
        )
        enc.append(time.perf_counter() - t1)
        enc_cpu.append(time.process_time() - c1)
    t2 = time.perf_counter()
    validate_bundle(bundle)
    out: dict[str, Any] = {
        "record_json_bytes": len(json.dumps(bundle)),
        "upload_2mb_p50_ms": ms(statistics.median(times)),
        "upload_2mb_p90_ms": ms(sorted(times)[int(len(times) * 0.9) - 1]),
        "upload_2mb_client_cpu_p50_ms": ms(statistics.median(cpu)),
        "encrypt_2mb_p50_ms": ms(statistics.median(enc)),
        "encrypt_2mb_cpu_p50_ms": ms(statistics.median(enc_cpu)),
        "validate_2mb_ms": ms(time.perf_counter() - t2),
        "upload_load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if server:
        out["upload_2mb_server_cpu_ms"] = server
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def one_mib_record(patient: Person) -> Any:
    rid = new_record_id()
    assert patient.master is not None
    pending = encrypt_segment(
        [os.urandom(MIB - 64)],
        context=SegmentContext(patient.id, rid, "labs", 1),
        segment_pk=patient.master.segment_public_key("labs", 1),
        search_key=patient.master.search_key("labs", 1),
        keywords=["glucose", "hba1c"],
    )
    ciphertext = b"".join(pending.chunks)
    manifest = RecordManifest(
        patient_id=patient.id,
        record_id=rid,
        created_at="2026-11-24T00:00:00+00:00",
        author=patient.keys.signing.verify_key.b64(),
        segments=[pending.entry()],
    )
    return sign_manifest(manifest, patient.keys.signing), pending.tags, ciphertext


async def upload_1mib(
    client: RecordsClient, patient: Person, n: int, concurrency: int
) -> dict[str, float]:
    records = [one_mib_record(patient) for _ in range(n)]
    queue = list(records)

    async def worker() -> None:
        while queue:
            signed, tags, ct = queue.pop()
            await client.upload_segments(
                signed,
                tags={"labs": tags},
                sources={"labs": ct},
                upload_id="up_" + signed.manifest.record_id,
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {
        "upload_1mib_records_per_s": round(n / elapsed, 1),
        "upload_1mib_mb_per_s": round(n * len(records[0][2]) / elapsed / MB, 1),
        "upload_1mib_n": n,
        "upload_1mib_concurrency": concurrency,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default=os.environ.get("PHR_PROFILE", "test"))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--n-1mib", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    stack = local_stack(args.profile)
    async with scenario_of(stack) as sc:
        patient = await sc.patient()
        client = sc.records(patient, concurrency=10)
    async with client:
        out: dict[str, Any] = {}
        out |= await upload_2mb(client, patient, args.n, stack)
        out |= await upload_1mib(client, patient, args.n_1mib, args.concurrency)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())

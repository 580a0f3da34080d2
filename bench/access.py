"""A data user's read of a 2 MB record, end to end, against a running stack.

    PHR_PORT_OFFSET=1500 uv run python bench/access.py --profile test

- ``access_2mb_p50_ms``: ``AccessClient.fetch_record`` of one ~2 MB FHIR record (the
  Synthea fixture grown to 2 MB of JSON, every segment granted to the doctor), from
  the call to the merged Bundle: ``POST /v1/access`` (``access.requested`` published,
  manifest from owner-api, three SRS nodes asked at once, each publishing its access
  events before it answers), every node signature, grant and cfrag verified, the
  ciphertext read straight from S3 through the presigned URLs, SHA-256 checked,
  decrypted, merged. FHIR schema validation excluded (as in bench/records.py). Median of ``--n``.
- ``access_request_p50_ms``: the ``POST /v1/access`` round trip alone (cfrags opened).
- ``client_cpu_p50_ms``: CPU time of the reader's process per read (verification,
  capsules, SHA-256, AES-GCM, JSON parsing and merging of 2 MB of FHIR).
- ``server_cpu_ms_per_read``: CPU milliseconds per read of each process of the stack
  (from /proc) over the timed reads, background work (access events) included.
- ``load_avg_1m``: the machine's load when the figures were taken (2 cores, shared).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cast import hospital_cast, local_stack, record_of, scenario_of, until_readable  # noqa: E402
from bench.records import bundle_of, cpu_per_op, process_cpu  # noqa: E402
from phr.scenario import Scenario  # noqa: E402

MB = 10**6


def p50(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default=os.environ.get("PHR_PROFILE", "test"))
    ap.add_argument("--n", type=int, default=30)
    args = ap.parse_args()
    stack = local_stack(args.profile)
    async with scenario_of(stack) as sc:
        await run(sc, stack, args.n)


async def run(sc: Scenario, stack: Any, n: int) -> None:
    cast = await hospital_cast(sc)
    patient = cast.patient
    bundle = bundle_of(2 * MB)
    record = record_of(patient, bundle)
    rid = record.manifest.record_id
    async with sc.records(patient) as records:
        await records.upload_encrypted_record(record)
    segments = sorted(record.segments)
    await sc.grant_user(patient, cast.doctor, segments)

    async with await sc.reader(cast.doctor) as doctor:
        await until_readable(doctor, patient.id, rid, segments)
        full, requests, cpu = [], [], []
        for _ in range(3):  # warm-ups
            got = await doctor.fetch_record(patient.id, rid, validate=False)
        before = process_cpu(stack)
        for _ in range(n):
            c0 = time.process_time()
            t0 = time.perf_counter()
            got = await doctor.fetch_record(patient.id, rid, validate=False)
            full.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        server = cpu_per_op(before, process_cpu(stack), n)
        assert len(got["entry"]) == len(bundle["entry"])
        for _ in range(n):
            t1 = time.perf_counter()
            await doctor.request_access(patient.id, rid)
            requests.append(time.perf_counter() - t1)
    out: dict[str, Any] = {
        "record_json_bytes": len(json.dumps(bundle)),
        "ciphertext_bytes": sum(e.size for e in record.manifest.segments),
        "segments": len(segments),
        "access_2mb_p50_ms": p50(full),
        "access_2mb_p90_ms": round(sorted(full)[int(len(full) * 0.9) - 1] * 1000, 1),
        "access_2mb_p99_ms": round(sorted(full)[max(0, int(len(full) * 0.99) - 1)] * 1000, 1),
        "access_request_p50_ms": p50(requests),
        "client_cpu_p50_ms": p50(cpu),
        "server_cpu_ms_per_read": server,
        "load_avg_1m": os.getloadavg()[0],
        "n": n,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())

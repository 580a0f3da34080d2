"""Enrolments per second through the KGC's API (POST /v1/users), against a running stack.

    PHR_PORT_OFFSET=300 uv run python bench/enrol.py --n 5000 --concurrency 64

Keys and signed request bodies are prepared before the clock starts, and requests go
over keep-alive connections with a minimal HTTP/1.1 client, so the figure measures the
server (parse, proof check, credential signature, one insert, one event), not httpx.
Prints one JSON line: {"enrol_per_s": ..., "n": ..., "errors": ..., ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cast import local_stack, service_url  # noqa: E402
from phr.crypto.keys import UserKeys  # noqa: E402
from phr.sdk.identity import enrolment_request  # noqa: E402


def build_requests(host: str, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        body = json.dumps(enrolment_request(UserKeys.generate(), "patient")).encode()
        head = (
            f"POST /v1/users HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def worker(
    host: str, port: int, queue: list[bytes], statuses: dict[int, int], latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while queue:
            request = queue.pop()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    url: str, n: int, concurrency: int, warmup: int, pid: int | None = None
) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = build_requests(f"{host}:{port}", n + warmup)
    if warmup:
        warm = requests[n:]
        await asyncio.gather(*(worker(host, port, warm, {}, []) for _ in range(8)))
    queue = requests[:n]
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    await asyncio.gather(
        *(worker(host, port, queue, statuses, latencies) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(pid)
    # CPU the KGC process spent per enrolment: what one core could sustain if the box
    # were not shared (other stacks, the client and the servers take the rest).
    cpu_ms = (cpu1 - cpu0) * 1000 / n if cpu0 is not None and cpu1 is not None else None
    latencies.sort()
    return {
        "enrol_per_s": round(statuses.get(201, 0) / elapsed, 1),
        "n": n,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "errors": n - statuses.get(201, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2) if latencies else None,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "kgc_cpu_ms_per_enrol": round(cpu_ms, 3) if cpu_ms else None,
        "enrol_per_kgc_cpu_s": round(1000 / cpu_ms, 1) if cpu_ms else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--url", help="KGC base URL (default: the test stack's, PHR_PORT_OFFSET aware)")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=200)
    args = ap.parse_args()
    stack = local_stack()
    url = args.url or service_url(stack, "kgc")
    pid = None if args.url else stack.pid("kgc")
    print(json.dumps(asyncio.run(run(url, args.n, args.concurrency, args.warmup, pid))))


if __name__ == "__main__":
    main()

"""Replay pacing: a 1,000-event capture replayed at its original pacing, against its span.

    uv run python bench/replay.py --bootstrap 127.0.0.1:14092     # prints one JSON object

Generates a signed stream (`phr events generate`), spaces its records evenly over
``--span`` seconds, renames its topics to ``bench.replay.*`` (so no service of the
stack consumes them) and replays it with ``speed=1.0`` (the original pacing). Reports
the replay's duration over the capture's span (1.0 is perfect pacing) and, for
comparison, the as-fast-as-possible replay's events per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from phr.capture.format import read_capture  # noqa: E402
from phr.capture.generate import generate  # noqa: E402
from phr.capture.kafka import ensure_topics, select, send_records  # noqa: E402


async def run(bootstrap: str, events: int = 1000, span_s: float = 10.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.ndjson"
        patients = 1
        while generate(path, patients, seed=11)["events"] < events:
            patients = patients * 2
        capture = read_capture(path)
    chosen = select(capture.records, None)[:events]
    step = int(span_s * 1000 / max(1, len(chosen) - 1))
    paced = [
        r.model_copy(update={"topic": "bench.replay." + r.topic, "timestamp": i * step})
        for i, r in enumerate(chosen)
    ]
    await ensure_topics(bootstrap, dict.fromkeys({r.topic for r in paced}, 3))
    fast = await send_records(bootstrap, paced, speed=None)
    seconds = await send_records(bootstrap, paced, speed=1.0)
    span = (paced[-1].timestamp or 0) / 1000
    return {
        "replay_events": len(paced),
        "replay_span_s": round(span, 3),
        "replay_original_pacing_s": round(seconds, 3),
        "replay_pacing_ratio": round(seconds / span, 3),
        "replay_max_events_per_s": round(len(paced) / fast, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--span", type=float, default=10.0)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.bootstrap, args.events, args.span))))


if __name__ == "__main__":
    main()

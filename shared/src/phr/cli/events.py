"""`phr events`: capture a stream, verify it, replay it safely, report what it produced.

A capture is NDJSON (phr.capture.format): a header with the system parameters the
producers signed under and the source ledger's checkpoint, then every Kafka record
with its topic, partition, offset, key, headers and value. It verifies on its own.

Replaying into a deployment: the target must trust the capture's producer keys (the
same registry, or a stack brought up from the capture's parameters), and the replay
must run BEFORE the target's services start, so the ledger reads the sequence topic
in the capture's order and rebuilds a byte-identical chain. What events cannot
rebuild: users' secret keys (they never leave the users' machines) and ciphertext
(it lives in S3, never on Kafka); SRS grant state, the ledger, the KGC's users and
organisations and owner-api's records' metadata are rebuilt. One command does it all on
the one-machine stack: `make from-capture CAPTURE=… SECRETS=…` (deploy/local/from_capture.py).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from phr.capture import kafka as ck
from phr.capture.format import CaptureFilters, CaptureHeader, CaptureInvalid, read_capture
from phr.capture.format import write_capture as _write
from phr.capture.generate import generate as _generate
from phr.capture.verify import SEQUENCE_TOPIC, verify_capture
from phr.cli.output import emit, fail
from phr.events.catalog import TOPIC_DEADLETTER, TOPICS

app = typer.Typer(help="Capture, verify, replay and report event streams.", no_args_is_help=True)

DEFAULT_TOPICS = [*sorted(TOPICS), TOPIC_DEADLETTER, SEQUENCE_TOPIC]
#: what a replay writes: the event topics and the ledger's sequence topic (dead letters
#: are a ledger's verdicts, made again by the target's own ledgers)
REPLAY_TOPICS = [*sorted(TOPICS), SEQUENCE_TOPIC]
NOT_REBUILT = (
    "rebuilt from events: the ledger, SRS grants and revocations, the KGC's users (public "
    "keys, role, organisation, department, status) and organisations, owner-api's records' "
    "metadata. Not rebuilt: users' secret keys (only on their own machines), ciphertext "
    "(in S3, never on Kafka) and its keyword-tag index, display names, attribute groups; "
    "copy S3 with `phr admin backup` if needed"
)

Bootstrap = Annotated[
    str, typer.Option("--bootstrap", help="Kafka bootstrap servers of the target, e.g. host:9092")
]


def _as_json(ctx: typer.Context) -> bool:
    return bool(getattr(ctx.obj, "as_json", False))


def _time(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name} takes an ISO 8601 time, e.g. 2026-12-01T10:00:00Z")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


async def _source_state(kgc: str | None, ledger: str | None) -> tuple[Any, str | None, str | None]:
    params = checkpoint = origin = None
    async with httpx.AsyncClient(timeout=10) as http:
        if kgc:
            resp = await http.get(f"{kgc.rstrip('/')}/v1/params")
            resp.raise_for_status()
            params = resp.json()
        if ledger:
            key = (await http.get(f"{ledger.rstrip('/')}/v1/key")).json()
            origin = key.get("origin")
            resp = await http.get(f"{ledger.rstrip('/')}/v1/checkpoint")
            resp.raise_for_status()
            checkpoint = resp.text
    return params, checkpoint, origin


@app.command("dump")
def dump(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="capture file to write")],
    bootstrap: Annotated[
        str,
        typer.Option(
            "--bootstrap", envvar="PHR_KAFKA", help="Kafka bootstrap servers of the source"
        ),
    ],
    ledger: Annotated[str | None, typer.Option(help="source ledger URL: its checkpoint")] = None,
    topic: Annotated[list[str] | None, typer.Option("--topic", help="default: all")] = None,
    since: Annotated[str | None, typer.Option(help="records at or after this time")] = None,
    until: Annotated[str | None, typer.Option(help="records at or before this time")] = None,
    from_offset: Annotated[int | None, typer.Option(min=0, help="per partition")] = None,
    to_offset: Annotated[int | None, typer.Option(min=0, help="per partition, inclusive")] = None,
) -> None:
    """Capture event topics (keys, headers, offsets) with the keys to verify them.

    Example: uv run phr events dump -o cap.ndjson --bootstrap 127.0.0.1:9092 \\
      --kgc http://127.0.0.1:8001 --ledger http://127.0.0.1:8005
    """
    t0, t1 = _time(since, "--since"), _time(until, "--until")
    # --kgc is a global option of `phr` (taken before or after the subcommand): the
    # source KGC whose signed parameters go into the header, also from PHR_KGC_URL.
    session = ctx.obj
    kgc = getattr(session, "kgc_url_option", None) or os.environ.get("PHR_KGC_URL")
    topics = topic or DEFAULT_TOPICS
    partitions, records = asyncio.run(
        ck.read_records(
            bootstrap,
            topics,
            since_ms=_ms(t0),
            until_ms=_ms(t1),
            from_offset=from_offset,
            to_offset=to_offset,
        )
    )
    try:
        params, checkpoint, origin = asyncio.run(_source_state(kgc, ledger))
    except httpx.HTTPError as exc:
        fail(f"cannot read the source's parameters or checkpoint: {exc}")
    header = CaptureHeader(
        created=datetime.now(UTC),
        partitions=partitions,
        params=params,
        checkpoint=checkpoint,
        ledger_origin=origin,
        filters=CaptureFilters(
            topics=topics, since=t0, until=t1, from_offset=from_offset, to_offset=to_offset
        ),
    )
    n = _write(output, header, records)
    note = "" if params else " (no --kgc: verify and replay will need --params)"
    emit(
        {
            "file": str(output),
            "records": n,
            "partitions": partitions,
            "params": bool(params),
            "checkpoint": bool(checkpoint),
        },
        as_json=_as_json(ctx),
        lines=[f"captured {n} records to {output}{note}"],
    )


def _load(file: Path, params_file: Path | None, kgc_key: str | None) -> Any:
    try:
        capture = read_capture(file)
    except CaptureInvalid as exc:
        fail(str(exc))
    params = None
    if params_file is not None:
        import json

        params = json.loads(params_file.read_text())
    verdict = verify_capture(capture, params, kgc_key)
    return capture, params, verdict


ParamsFile = Annotated[
    Path | None,
    typer.Option("--params", help="signed system parameters (for captures without them)"),
]
KgcKey = Annotated[
    str | None, typer.Option("--kgc-key", help="pin: the KGC public key the parameters must name")
]


@app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a capture")],
    params: ParamsFile = None,
    kgc_key: KgcKey = None,
) -> None:
    """Check every signature, every event id once and per-partition order of a capture.

    Example: uv run phr events verify cap.ndjson
    """
    _, _, verdict = _load(file, params, kgc_key)
    body = verdict.to_json()
    lines = [f"{n:6d}  {t}" for t, n in body["events"].items()]
    if verdict.ok:
        emit(
            body,
            as_json=_as_json(ctx),
            lines=[f"{file}: verified {verdict.records} records", *lines],
        )
        return
    emit(body, as_json=_as_json(ctx), lines=[f"{file}: REFUSED", *verdict.problems[:20]])
    raise typer.Exit(1)


def _json(path: Path) -> Any:
    import json

    return json.loads(path.read_text())


@app.command("generate")
def generate(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("-o", "--output", help="capture file to write")],
    patients: Annotated[int, typer.Option(min=1, max=1_000_000, help="how many patients")] = 100,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 1,
) -> None:
    """A realistic signed stream for load tests of a consumer (metadata only, no FHIR).

    The events are signed by throwaway producer keys written beside it (FILE.keys.json).

    Example: uv run phr events generate --patients 1000 --seed 7 -o load.ndjson
    """
    result = _generate(output, patients, seed)
    emit(
        result,
        as_json=_as_json(ctx),
        lines=[f"generated {result['events']} events to {output}; keys in {result['keys']}"],
    )


# replay and report register on the same group
from phr.cli import replay as _replay  # noqa: E402, F401

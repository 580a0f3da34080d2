"""`phr events replay` and `phr events report`: a verified capture into a deployment,
and what it produced there. See :mod:`phr.cli.events` for what a replay needs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from phr.capture import kafka as ck
from phr.capture.report import (
    ReplayReport,
    extends,
    ledger_checkpoint,
    rejected_counts,
    sent_counts,
    source_checkpoint,
)
from phr.capture.verify import capture_params
from phr.cli.events import (
    NOT_REBUILT,
    REPLAY_TOPICS,
    Bootstrap,
    KgcKey,
    ParamsFile,
    _as_json,
    _json,
    _load,
    app,
)
from phr.cli.output import emit, fail
from phr.crypto.signing import VerifyKey
from phr.events.catalog import TOPIC_DEADLETTER, TOPICS
from phr.identity.params import ParamsInvalid


def _speed(text: str) -> float | None:
    if text in ("max", "fast"):
        return None
    if text == "original":
        return 1.0
    try:
        factor = float(text.removesuffix("x"))
    except ValueError:
        fail("--speed takes max, original or a factor such as 2 or 0.5x")
    if factor <= 0:
        fail("--speed must be positive")
    return factor


@app.command("replay")
def replay(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a capture written by `phr events dump`")],
    bootstrap: Bootstrap,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print what would be sent")] = False,
    force: Annotated[bool, typer.Option("--force", help="replay into a non-empty target")] = False,
    speed: Annotated[str, typer.Option(help="max, original or a factor (2, 0.5x)")] = "max",
    until: Annotated[
        str | None, typer.Option(help="stop after this offset (per partition) or time")
    ] = None,
    params: ParamsFile = None,
    kgc_key: KgcKey = None,
) -> None:
    """Replay a verified capture into an empty deployment, partition by partition.

    The target must trust the capture's producer keys, and the replay must run before
    the target's services start (so its ledger rebuilds the same chain). A target whose
    topics hold records is refused unless --force; consumers are idempotent, so a
    capture replayed twice changes nothing the second time.

    Example: uv run phr events replay cap.ndjson --bootstrap 127.0.0.1:9192 --dry-run
    """
    capture, _, verdict = _load(file, params, kgc_key)
    if not verdict.ok:
        fail(f"{file} does not verify ({verdict.problems[0]}); nothing sent")
    try:
        stop = ck.Until.parse(until)
    except ValueError as exc:
        fail(str(exc))
    pace = _speed(speed)
    chosen = ck.select(capture.event_records(REPLAY_TOPICS), stop)
    by_topic: dict[str, int] = {}
    for rec in chosen:
        by_topic[rec.topic] = by_topic.get(rec.topic, 0) + 1
    summary: dict[str, Any] = {
        "file": str(file),
        "target": bootstrap,
        "records": len(chosen),
        "by_topic": by_topic,
        "events": dict(sent_counts(chosen)),
        "speed": speed,
        "not_rebuilt": NOT_REBUILT,
    }
    if dry_run:
        lines = [f"would send {len(chosen)} records to {bootstrap}:"]
        lines += [f"{n:6d}  {t}" for t, n in sorted(by_topic.items())]
        emit({**summary, "dry_run": True}, as_json=_as_json(ctx), lines=[*lines, NOT_REBUILT])
        return
    busy = asyncio.run(ck.topic_sizes(bootstrap, REPLAY_TOPICS))
    if busy and not force:
        fail(
            f"the target {bootstrap} is not empty ({sum(busy.values())} records on "
            f"{', '.join(sorted(busy))}); replay into an empty deployment or pass --force"
        )
    asyncio.run(
        ck.ensure_topics(
            bootstrap, {t: n for t, n in capture.header.partitions.items() if t in REPLAY_TOPICS}
        )
    )
    seconds = asyncio.run(ck.send_records(bootstrap, chosen, speed=pace))
    span = ((chosen[-1].timestamp or 0) - (chosen[0].timestamp or 0)) / 1000 if chosen else 0.0
    summary.update(seconds=round(seconds, 3), capture_span_s=round(span, 3), forced=bool(busy))
    emit(
        summary,
        as_json=_as_json(ctx),
        lines=[f"replayed {len(chosen)} records into {bootstrap} in {seconds:.1f} s", NOT_REBUILT],
    )


@app.command("report")
def report(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the capture that was replayed")],
    bootstrap: Bootstrap,
    ledger: Annotated[str, typer.Option(help="the target's ledger URL")],
    params: ParamsFile = None,
) -> None:
    """What a replay produced: per type sent, accepted, rejected; the ledger reached.

    Rejections come with their reasons (the target's dead-letter topic); the ledger's
    checkpoint is compared with the capture's source checkpoint (equal, or a verified
    extension of it).

    Example: uv run phr events report cap.ndjson --bootstrap 127.0.0.1:9192 \\
      --ledger http://127.0.0.1:8105
    """
    capture, _, _ = _load(file, params, None)
    out = ReplayReport(sent=sent_counts(list(capture.event_records(TOPICS))))
    _, dead = asyncio.run(ck.read_records(bootstrap, [TOPIC_DEADLETTER]))
    out.rejected = rejected_counts(dead)
    try:
        sp = capture_params(capture, None if params is None else _json(params))
    except ParamsInvalid as exc:
        fail(f"system parameters: {exc}")
    out.source = source_checkpoint(capture)
    if sp.ledger is None:
        out.notes.append("the parameters publish no ledger key")
    else:

        async def read() -> None:
            async with httpx.AsyncClient(timeout=10) as http:
                origin = (await http.get(f"{ledger.rstrip('/')}/v1/key")).json()["origin"]
                key = VerifyKey.from_b64(sp.ledger.ed25519_public)  # type: ignore[union-attr]
                out.ledger = await ledger_checkpoint(ledger, origin, key, http)
                if out.source is not None and out.ledger.size > out.source.size:
                    out.extends_source = await extends(ledger, out.source, out.ledger, http)

        try:
            asyncio.run(read())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            out.notes.append(f"target ledger unreadable: {exc}")
    body = out.to_json()
    lines = [f"{'type':22} {'sent':>7} {'accepted':>9} {'rejected':>9}"]
    for row in body["types"]:
        lines.append(f"{row['type']:22} {row['sent']:7d} {row['accepted']:9d} {row['rejected']:9d}")
        lines += [f"    {n} rejected: {why}" for why, n in row["reasons"].items()]
    if body["ledger"]:
        lines.append(f"ledger: size {body['ledger']['size']}, root {body['ledger']['root']}")
    if out.matches_source and out.extends_source:
        lines.append("extends the capture's source checkpoint (consistency proof verified)")
    else:
        lines.append(
            {
                True: "equals the capture's source checkpoint",
                False: "DIFFERS from the capture's source checkpoint",
                None: "no source checkpoint to compare",
            }[out.matches_source]
        )
    emit(body, as_json=_as_json(ctx), lines=[*lines, *out.notes])
    if out.matches_source is False:
        raise typer.Exit(1)

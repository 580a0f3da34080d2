"""HTTP API of the ledger; thin handlers over the reader.

Public (anyone may check that the log does not fork): the key, checkpoints, the head,
block headers with their leaf hashes, and consistency proofs. Event bodies (who saw
what and when: health data) and the proofs that carry them need a token, and go only to
the callers :mod:`ledger.access` admits. Re-verifying the whole stored chain is for
auditors and services: anyone else checks the chain himself from the public leaf hashes
(``phr ledger verify``).
Staff (a hospital's gateway among them) may ask for the entries of a trail that name
them (``named_only=true``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse

from ledger.access import (  # noqa: F401 (names: for the route's tests)
    ensure_auditor,
    ensure_may_read,
    ensure_subject_reader,
    may_read,
    names,
    reads_everything,
)
from ledger.deps import ReaderDep, SequencerDep
from phr.ledger.wire import (
    AuditTrailOut,
    BlockOut,
    ChainReport,
    ConsistencyProofOut,
    InclusionProofOut,
    LedgerKeyOut,
)
from phr.service.auth import CurrentPrincipal
from phr.service.problems import problem_responses

router = APIRouter(prefix="/v1", tags=["ledger"])

#: heights, sizes and offsets are unsigned 64-bit on the wire (RFC 9162 tree sizes):
#: anything larger is a client's mistake (422), not a 500 from MongoDB's int64 (L3)
MAX_U63: Final = 2**63 - 1
Height = Annotated[int, Path(ge=0, le=MAX_U63)]


@router.get("/key", summary="The ledger's public key and checkpoint origin")
async def get_key(reader: ReaderDep) -> LedgerKeyOut:
    return reader.key()


@router.get(
    "/checkpoint",
    summary="Latest checkpoint, a C2SP tlog-checkpoint signed note",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {
                "text/plain": {
                    "schema": {"type": "string"},
                    "example": "phr-exchange.example/ledger\n24\n"
                    "LXEWQrcmsEQBYnyp+6wy9chTD7GQPMTbAiWHF5IaSIE=\n\n"
                    "\u2014 phr-exchange.example/ledger "
                    "Xq+WHYDLTpwyId6LGQ8nypJ4WwwLaR5fDUuJBSHyCz27"
                    "HlnUOaL93eLT857cVDJypewBnDTdrnhPjNm8TMdP2lQIqwI=\n",
                }
            }
        }
    },
)
async def get_checkpoint(reader: ReaderDep) -> PlainTextResponse:
    return PlainTextResponse(await reader.checkpoint(), media_type="text/plain; charset=utf-8")


@router.get("/blocks/{height}", summary="One block: header bytes, signature and events")
async def get_block(height: Height, reader: ReaderDep) -> BlockOut:
    return await reader.block(height)


@router.get("/blocks", summary="Consecutive blocks from a height")
async def list_blocks(
    reader: ReaderDep,
    start: Annotated[int, Query(ge=0, le=MAX_U63)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[BlockOut]:
    head = await reader.head()
    end = min(head.height + 1, start + limit)
    return [await reader.block(h) for h in range(start, end)]


_EVENT_EXAMPLE: Final = InclusionProofOut.model_json_schema()["examples"][0]["event"]


def _example(value: object) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {"application/json": {"example": value}}}}


@router.get(
    "/head",
    summary="Height, log size and position of the last sealed block",
    responses=_example(
        {
            "height": 7,
            "hash": "5b7425408eed00dc3a2c0d98a9f4013b5fa9f8529c1ef989137eb30473e086a1",
            "log_size": 24,
            "next_offset": 24,
            "pending": 0,
            "accepted": 24,
            "duplicates": 1,
            "rejected": 0,
        }
    ),
)
async def get_head(reader: ReaderDep, sequencer: SequencerDep) -> dict[str, Any]:
    head = await reader.head()
    return {
        "height": head.height,
        "hash": head.hash.hex(),
        "log_size": head.log_size,
        "next_offset": head.next_offset,
        "pending": len(sequencer.pending),
        "accepted": sequencer.accepted,
        "duplicates": sequencer.duplicates,
        "rejected": await reader.store.rejection_count(),
    }


@router.get(
    "/events/{event_id}",
    summary="One sealed event envelope (its patient, parties, auditors)",
    responses=_example(_EVENT_EXAMPLE),
)
async def get_event(
    event_id: Annotated[str, Path(max_length=64)], reader: ReaderDep, caller: CurrentPrincipal
) -> dict[str, Any]:
    event = await reader.event(event_id)
    ensure_may_read(caller, event)
    return event


@router.get(
    "/events",
    summary="Sealed events, in log order: those about the caller or naming him (auditors: all)",
    responses=_example([_EVENT_EXAMPLE]),
)
async def list_events(
    reader: ReaderDep,
    caller: CurrentPrincipal,
    type: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    # ``limit`` bounds the events looked at; others' entries are then left out
    found = await reader.events(subject=subject, type=type, source=source, limit=limit)
    return [e for e in found if may_read(caller, e)]


@router.get(
    "/proofs/inclusion",
    summary="RFC 9162 audit path of an event",
    responses=problem_responses(403, 404, descriptions={404: "The event is in no sealed block"}),
)
async def get_inclusion(
    reader: ReaderDep,
    caller: CurrentPrincipal,
    event_id: Annotated[str, Query(max_length=64)],
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_U63, description="default: latest")] = None,
) -> InclusionProofOut:
    # the proof carries the event: the same readers as the event
    ensure_may_read(caller, await reader.event(event_id))
    return await reader.inclusion(event_id, tree_size)


@router.get("/proofs/consistency", summary="RFC 9162 consistency proof between two sizes")
async def get_consistency(
    reader: ReaderDep,
    first: Annotated[int, Query(ge=0, le=MAX_U63)],
    second: Annotated[int | None, Query(ge=0, le=MAX_U63, description="default: latest")] = None,
) -> ConsistencyProofOut:
    return await reader.consistency(first, second)


@router.get("/audit/{subject}", summary="Every event about a patient, each with its proof")
async def get_audit_trail(
    subject: str,
    reader: ReaderDep,
    caller: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    named_only: Annotated[
        bool, Query(description="staff: only the events that name the caller")
    ] = False,
) -> AuditTrailOut:
    if named_only and not reads_everything(caller) and caller.sub != subject:
        trail = await reader.audit_trail(subject, limit)
        named = [p for p in trail.entries if may_read(caller, p.event)]
        return trail.model_copy(update={"entries": named})
    ensure_subject_reader(caller, subject)
    return await reader.audit_trail(subject, limit)


@router.get("/verify", summary="Re-verify the whole stored chain (auditors and services)")
async def verify(reader: ReaderDep, caller: CurrentPrincipal) -> ChainReport:
    ensure_auditor(caller)
    return await reader.verify_chain()

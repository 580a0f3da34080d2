"""HTTP API of the ledger; thin handlers over the reader.

Blocks, checkpoints and proofs are public: anyone may verify the log, and its events
carry pseudonymous ids, segment names, hashes and sealed kfrags, never health data.
The audit trail, a ready-made view of who did what to one patient, is for that patient,
admins and services; staff (a hospital's gateway among them) may ask for the events that
name them (as requester, grantee, uploader or delegate), each with its proof.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

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
from phr.service.problems import Forbidden

router = APIRouter(prefix="/v1", tags=["ledger"])


@router.get("/key", summary="The ledger's public key and checkpoint origin")
async def get_key(reader: ReaderDep) -> LedgerKeyOut:
    return reader.key()


@router.get(
    "/checkpoint",
    summary="Latest checkpoint, a C2SP tlog-checkpoint signed note",
    response_class=PlainTextResponse,
)
async def get_checkpoint(reader: ReaderDep) -> PlainTextResponse:
    return PlainTextResponse(await reader.checkpoint(), media_type="text/plain; charset=utf-8")


@router.get("/blocks/{height}", summary="One block: header bytes, signature and events")
async def get_block(height: int, reader: ReaderDep) -> BlockOut:
    return await reader.block(height)


@router.get("/blocks", summary="Consecutive blocks from a height")
async def list_blocks(
    reader: ReaderDep,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[BlockOut]:
    head = await reader.head()
    end = min(head.height + 1, start + limit)
    return [await reader.block(h) for h in range(start, end)]


@router.get("/head", summary="Height, log size and position of the last sealed block")
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


@router.get("/events/{event_id}", summary="One sealed event envelope")
async def get_event(event_id: str, reader: ReaderDep) -> dict[str, Any]:
    return await reader.event(event_id)


@router.get("/events", summary="Sealed events, in log order")
async def list_events(
    reader: ReaderDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return await reader.events(subject=subject, type=type, source=source, limit=limit)


@router.get("/proofs/inclusion", summary="RFC 9162 audit path of an event")
async def get_inclusion(
    reader: ReaderDep,
    event_id: Annotated[str, Query(max_length=64)],
    tree_size: Annotated[int | None, Query(ge=1, description="default: latest")] = None,
) -> InclusionProofOut:
    return await reader.inclusion(event_id, tree_size)


@router.get("/proofs/consistency", summary="RFC 9162 consistency proof between two sizes")
async def get_consistency(
    reader: ReaderDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int | None, Query(ge=0, description="default: latest")] = None,
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
    if caller.sub == subject or caller.is_service or caller.role == "admin":
        return await reader.audit_trail(subject, limit)
    if not (named_only and caller.is_staff):
        raise Forbidden(
            "a patient's audit trail is for him, admins and services; staff may ask for the "
            "events naming them (named_only=true)"
        )
    trail = await reader.audit_trail(subject, limit)
    named = [p for p in trail.entries if names(p.event, caller.sub)]
    return trail.model_copy(update={"entries": named})


#: the fields of an event's data that name a party to it
PARTY_FIELDS = ("requester_id", "grantee_user_id", "uploaded_by", "delegate_user_id")


def names(event: dict[str, Any], user_id: str) -> bool:
    """Whether ``event`` names ``user_id`` as a party (not merely as its producer)."""
    data = event.get("data")
    return isinstance(data, dict) and any(data.get(f) == user_id for f in PARTY_FIELDS)


@router.get("/verify", summary="Re-verify the whole stored chain")
async def verify(reader: ReaderDep) -> ChainReport:
    return await reader.verify_chain()

"""HTTP API of the ledger; thin handlers over the stores."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from phr.service.problems import NotFound

from ledger.intake import EventStore

router = APIRouter(prefix="/v1", tags=["events"])


def get_events(request: Request) -> EventStore:
    store: EventStore = request.state.event_store
    return store


EventsDep = Annotated[EventStore, Depends(get_events)]


@router.get("/events/{event_id}", summary="One recorded event envelope")
async def get_event(event_id: str, store: EventsDep) -> dict[str, Any]:
    event = await store.get(event_id)
    if event is None:
        raise NotFound(f"no event {event_id} has been recorded")
    return event


@router.get("/events", summary="Recorded events, oldest first")
async def list_events(
    store: EventsDep,
    type: Annotated[str | None, Query(max_length=64)] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return await store.find(type=type, source=source, subject=subject, limit=limit)

"""Event intake: every topic into the ``events`` collection, once per event id.

This is the first stage of the ledger: events are kept in arrival order per partition;
sequencing them into signed blocks builds on this store.
"""

from __future__ import annotations

from typing import Any

from phr.events.envelope import Envelope
from phr.service.mongo import Document
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

EVENTS = "events"


class EventStore:
    """The only module of the ledger that touches the events collection."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.events = db[EVENTS]

    async def ensure_indexes(self) -> None:
        await self.events.create_index([("subject", 1), ("time", 1)])
        await self.events.create_index([("type", 1)])

    async def record(self, event: Envelope, session: AsyncClientSession) -> None:
        await self.events.insert_one(
            {
                "_id": str(event.id),
                "source": event.source,
                "type": event.type,
                "subject": event.subject,
                "time": event.time,
                "envelope": event.model_dump(mode="json"),
            },
            session=session,
        )

    async def get(self, event_id: str) -> dict[str, Any] | None:
        doc = await self.events.find_one({"_id": event_id})
        if doc is None:
            return None
        envelope: dict[str, Any] = doc["envelope"]
        return envelope

    async def find(
        self, *, type: str | None, source: str | None, subject: str | None, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if type:
            query["type"] = type
        if source:
            query["source"] = source
        if subject:
            query["subject"] = subject
        cursor = self.events.find(query).sort("time", 1).limit(limit)
        return [dict(doc["envelope"]) async for doc in cursor]

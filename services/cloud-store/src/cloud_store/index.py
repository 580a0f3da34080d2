"""The keyword-tag index and blob metadata in cloud-store's Mongo.

Tags are HMAC-SHA256 values computed by clients; the index holds nothing else about
a record's content. A trapdoor query returns which records/segments of which patients
carry all the given tags, and nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from phr.service.mongo import Document

TAGS = "tags"
BLOBS = "blobs"


class TagIndex:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tags = db[TAGS]
        self.blobs = db[BLOBS]

    async def ensure_indexes(self) -> None:
        await self.tags.create_index([("tags", 1), ("patient_id", 1)])
        await self.tags.create_index([("patient_id", 1), ("record_id", 1)])

    async def put(self, patient_id: str, record_id: str, segment: str, tags: list[str]) -> None:
        """Replace the tags of one segment (idempotent)."""
        await self.put_record(patient_id, record_id, {segment: tags})

    async def put_record(
        self, patient_id: str, record_id: str, segments: dict[str, list[str]]
    ) -> None:
        """Replace the tags of several segments of one record in one round trip (idempotent)."""
        if not segments:
            return
        await self.tags.bulk_write(
            [
                ReplaceOne(
                    {"_id": f"{patient_id}/{record_id}/{segment}"},
                    {
                        "patient_id": patient_id,
                        "record_id": record_id,
                        "segment": segment,
                        "tags": sorted(set(tags)),
                    },
                    upsert=True,
                )
                for segment, tags in segments.items()
            ],
            ordered=False,
        )

    async def remove_record(self, patient_id: str, record_id: str) -> int:
        result = await self.tags.delete_many({"patient_id": patient_id, "record_id": record_id})
        return result.deleted_count

    async def search(
        self, trapdoors: list[str], patient_ids: list[str] | None, limit: int
    ) -> list[dict[str, str]]:
        query: dict[str, Any] = {"tags": {"$all": sorted(set(trapdoors))}}
        if patient_ids is not None:
            query["patient_id"] = {"$in": patient_ids}
        cursor = (
            self.tags.find(query, {"_id": 0, "patient_id": 1, "record_id": 1, "segment": 1})
            .sort([("patient_id", 1), ("record_id", 1), ("segment", 1)])
            .limit(limit)
        )
        return [
            {"patient_id": d["patient_id"], "record_id": d["record_id"], "segment": d["segment"]}
            async for d in cursor
        ]

    async def record_blob(self, key: str, size: int, sha256: str) -> None:
        await self.blobs.replace_one(
            {"_id": key},
            {"size": size, "sha256": sha256, "stored_at": datetime.now(UTC)},
            upsert=True,
        )

    async def blob(self, key: str) -> dict[str, Any] | None:
        return await self.blobs.find_one({"_id": key})

    async def forget_blob(self, key: str) -> None:
        await self.blobs.delete_one({"_id": key})

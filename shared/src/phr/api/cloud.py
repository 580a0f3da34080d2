"""cloud-store's bodies: stored blobs, keyword tags, trapdoor search (services only)."""

from __future__ import annotations

from pydantic import Field

from phr.api import examples as ex
from phr.api._base import In, Out
from phr.api.ids import Hex64, Id

#: at most this many tags on one segment
MAX_TAGS_PER_SEGMENT = 100_000


class StoredBlobOut(Out):
    model_config = ex.examples({"key": ex.BLOB_KEY, "size": 18355, "sha256": ex.SHA256})
    key: str
    size: int
    sha256: str


class TagsIn(In):
    model_config = ex.examples({"tags": list(ex.TAGS)})
    tags: list[Hex64] = Field(max_length=MAX_TAGS_PER_SEGMENT)


class RecordTagsIn(In):
    model_config = ex.examples({"segments": {ex.SEGMENT: list(ex.TAGS), "conditions": []}})
    #: segment -> its tags (each list at most MAX_TAGS_PER_SEGMENT, checked by the route)
    segments: dict[Id, list[Hex64]] = Field(max_length=64)


class SearchIn(In):
    model_config = ex.examples(
        {"trapdoors": list(ex.TAGS), "patient_ids": [ex.PATIENT], "limit": 100}
    )
    trapdoors: list[Hex64] = Field(min_length=1, max_length=32)
    patient_ids: list[Id] | None = Field(default=None, max_length=10_000)
    limit: int = Field(default=1000, ge=1, le=10_000)


class SearchMatch(Out):
    model_config = ex.examples(
        {"patient_id": ex.PATIENT, "record_id": ex.RECORD, "segment": ex.SEGMENT}
    )
    patient_id: str
    record_id: str
    segment: str


class SearchOut(Out):
    """What a trapdoor search found (cloud-store's answer, and user-api's to its caller)."""

    model_config = ex.examples(
        {"matches": [{"patient_id": ex.PATIENT, "record_id": ex.RECORD, "segment": ex.SEGMENT}]}
    )

    matches: list[SearchMatch]

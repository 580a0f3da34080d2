"""cloud-store's HTTP API: blobs (streamed both ways), the tag index, trapdoor search.

Only services call it (owner-api, user-api), never end users: every route requires a
service token (``Authenticator.service_token("cloud-store")`` of the caller); a user's
token gets 403.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response, StreamingResponse

from cloud_store.blobs import BlobMismatch, BlobMissing, BlobUnavailable
from cloud_store.deps import BlobsDep, IndexDep, SettingsDep
from cloud_store.errors import (
    BlobCorrupted,
    BlobIntegrity,
    BlobNotFound,
    BlobTooLarge,
    StorageUnavailable,
    TagsTooMany,
)
from cloud_store.settings import MAX_BLOB_BYTES
from phr.api.cloud import (
    MAX_TAGS_PER_SEGMENT,
    RecordTagsIn,
    SearchIn,
    SearchMatch,
    SearchOut,
    StoredBlobOut,
    TagsIn,
)
from phr.api.ids import HEX64_PATTERN, ID_PATTERN
from phr.service.auth import require_role
from phr.service.openapi import CIPHERTEXT
from phr.service.problems import problem_responses

router = APIRouter(
    prefix="/v1",
    tags=["cloud-store"],
    dependencies=[Depends(require_role(services=True))],
)

KEY_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._/-]{0,255}$"
SHA256_PATTERN = HEX64_PATTERN

#: keyword tags are 64 hex digits each (JSON: 67 bytes), up to 100,000 per segment
TAGS_BODY_BYTES = 16 * 1024 * 1024

BlobKey = Annotated[str, Path(pattern=KEY_PATTERN, description="object key")]
Id = Annotated[str, Path(pattern=ID_PATTERN)]


def _check_key(key: str) -> None:
    if ".." in key.split("/"):
        raise BlobNotFound(f"invalid key {key!r}")


@router.put(
    "/blobs/{key:path}",
    summary="Store ciphertext (streamed); kept only if size and SHA-256 match",
    status_code=201,
    max_body_size=MAX_BLOB_BYTES,
    responses=problem_responses(413, 422, 503),
    openapi_extra={"requestBody": {"required": True, "content": CIPHERTEXT["content"]}},
)
async def put_blob(
    key: BlobKey,
    request: Request,
    blobs: BlobsDep,
    index: IndexDep,
    settings: SettingsDep,
    x_content_sha256: Annotated[str, Header(pattern=SHA256_PATTERN)],
    x_content_length: Annotated[int, Header(ge=0)],
) -> StoredBlobOut:
    _check_key(key)
    if x_content_length > settings.max_blob_bytes:
        raise BlobTooLarge(
            f"{x_content_length} bytes is over the limit of {settings.max_blob_bytes}"
        )
    existing = await index.blob(key)
    if existing and existing["sha256"] == x_content_sha256:
        # A retry of a completed upload: drain nothing more, change nothing.
        return StoredBlobOut(key=key, size=existing["size"], sha256=existing["sha256"])
    try:
        stored = await blobs.put_stream(
            key,
            request.stream(),
            expected_size=x_content_length,
            expected_sha256=x_content_sha256,
        )
    except BlobMismatch as exc:
        raise BlobIntegrity(str(exc)) from exc
    except BlobUnavailable as exc:
        raise StorageUnavailable(str(exc)) from exc
    await index.record_blob(key, stored.size, stored.sha256)
    return StoredBlobOut(key=key, size=stored.size, sha256=stored.sha256)


@router.get(
    "/blobs/{key:path}",
    summary="Read ciphertext (streamed); its SHA-256 is checked against the stored one",
    response_class=StreamingResponse,
    responses={**problem_responses(404, 502, 503), 200: CIPHERTEXT},
)
async def get_blob(
    key: BlobKey, blobs: BlobsDep, index: IndexDep, settings: SettingsDep
) -> Response:
    _check_key(key)
    meta = await index.blob(key)
    if meta is None:
        raise BlobNotFound(f"no blob {key}")
    headers = {"X-Content-SHA256": meta["sha256"], "X-Content-Length": str(meta["size"])}
    try:
        if meta["size"] <= settings.verify_before_send_bytes:
            # Small enough to check before the first byte leaves: a clean error.
            data = await blobs.get_bytes(key)
            if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise BlobCorrupted(f"blob {key} does not match its SHA-256; it was altered")
            return Response(data, media_type="application/octet-stream", headers=headers)
        stream = await blobs.get_stream(key)
    except BlobMissing as exc:
        raise BlobNotFound(f"blob {key} is gone from storage") from exc
    except BlobUnavailable as exc:
        raise StorageUnavailable(str(exc)) from exc

    async def verified() -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        async for chunk in stream:
            digest.update(chunk)
            yield chunk
        if digest.hexdigest() != meta["sha256"]:
            # Too late for a status code: break the stream so the reader sees a failure
            # (its SDK also checks the SHA-256 of what it got).
            raise BlobCorrupted(f"blob {key} does not match its SHA-256; it was altered")

    headers["Content-Length"] = str(meta["size"])
    return StreamingResponse(verified(), media_type="application/octet-stream", headers=headers)


@router.delete(
    "/blobs/{key:path}",
    summary="Remove ciphertext",
    status_code=204,
    responses=problem_responses(503),
)
async def delete_blob(key: BlobKey, blobs: BlobsDep, index: IndexDep) -> Response:
    _check_key(key)
    try:
        await blobs.remove(key)
    except BlobUnavailable as exc:
        raise StorageUnavailable(str(exc)) from exc
    await index.forget_blob(key)
    return Response(status_code=204)


@router.put(
    "/index/{patient_id}/{record_id}/{segment}",
    summary="Set the keyword tags of one segment",
    status_code=204,
    max_body_size=TAGS_BODY_BYTES,
)
async def put_tags(
    patient_id: Id, record_id: Id, segment: Id, body: TagsIn, index: IndexDep
) -> Response:
    await index.put(patient_id, record_id, segment, body.tags)
    return Response(status_code=204)


@router.put(
    "/index/{patient_id}/{record_id}",
    summary="Set the keyword tags of several segments of one record",
    status_code=204,
    max_body_size=TAGS_BODY_BYTES,
)
async def put_record_tags(
    patient_id: Id, record_id: Id, body: RecordTagsIn, index: IndexDep
) -> Response:
    too_many = [s for s, tags in body.segments.items() if len(tags) > MAX_TAGS_PER_SEGMENT]
    if too_many:
        raise TagsTooMany(f"more than {MAX_TAGS_PER_SEGMENT} tags on segments {too_many}")
    await index.put_record(patient_id, record_id, body.segments)
    return Response(status_code=204)


@router.delete("/index/{patient_id}/{record_id}", summary="Drop a record's tags", status_code=204)
async def delete_tags(patient_id: Id, record_id: Id, index: IndexDep) -> Response:
    await index.remove_record(patient_id, record_id)
    return Response(status_code=204)


@router.post("/search", summary="Segments carrying every trapdoor's tag")
async def search(body: SearchIn, index: IndexDep) -> SearchOut:
    found = await index.search(body.trapdoors, body.patient_ids, body.limit)
    return SearchOut(matches=[SearchMatch(**m) for m in found])

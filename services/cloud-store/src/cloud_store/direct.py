"""Bytes straight between clients and S3: presigned URLs and the integrity record.

owner-api asks for PUT URLs once it has checked an upload's signed manifest, user-api
for GET URLs once the SRS threshold granted an access; clients then move ciphertext
to and from S3 themselves and no service proxies a byte. Each URL names one object
and lives ``expires_s`` seconds (:mod:`cloud_store.presign`).

``POST /v1/blobs/verify`` closes an upload: one HEAD per object reads the SHA-256 S3
checked on PUT; an object that is there with the size and SHA-256 announced gets its
integrity record (what ``GET /v1/blobs/{key}`` and deletion use), the others are
reported missing or mismatched and left for the caller to re-send or abort.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud_store.api import KEY_PATTERN, SHA256_PATTERN
from cloud_store.blobs import BlobMissing, BlobUnavailable
from cloud_store.deps import BlobsDep, IndexDep, SettingsDep
from cloud_store.errors import BlobTooLarge, StorageUnavailable
from cloud_store.presign import MAX_EXPIRES_S, Presigner
from cloud_store.store import BlobStorage
from phr.api import examples as ex
from phr.service.auth import require_role
from phr.service.problems import problem_responses

router = APIRouter(
    prefix="/v1",
    tags=["cloud-store"],
    dependencies=[Depends(require_role(services=True))],
)

Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]


class PresignObject(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"key": ex.BLOB_KEY, "method": "PUT", "sha256": ex.SHA256, "size": 18355}]
        },
    )
    key: Key
    method: Literal["GET", "PUT"]
    sha256: Sha256 | None = Field(default=None, description="PUT: the SHA-256 S3 must see")
    size: int | None = Field(default=None, ge=0, description="PUT: the announced size")

    @model_validator(mode="after")
    def _put_needs_digest(self) -> PresignObject:
        if self.method == "PUT" and (self.sha256 is None or self.size is None):
            raise ValueError("a PUT URL needs the object's sha256 and size")
        if ".." in self.key.split("/"):
            raise ValueError("invalid key")
        return self


class PresignIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "objects": [
                        {"key": ex.BLOB_KEY, "method": "PUT", "sha256": ex.SHA256, "size": 18355}
                    ],
                    "expires_s": 300,
                },
                {"objects": [{"key": ex.BLOB_KEY, "method": "GET"}], "expires_s": 120},
            ]
        },
    )
    objects: list[PresignObject] = Field(min_length=1, max_length=64)
    expires_s: int = Field(default=300, ge=1, le=MAX_EXPIRES_S)


_PRESIGNED: dict[str, Any] = {
    "key": ex.BLOB_KEY,
    "method": "PUT",
    "url": ex.PUT_URL,
    "headers": {"x-amz-checksum-sha256": "is4f4sLiFS6D3dBc83kftxy96UncbUn3iEXN5zJEIdk="},
    "expires_at": ex.LATER,
}


class PresignedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PRESIGNED]})
    key: str
    method: str
    url: str
    headers: dict[str, str] = Field(description="headers the client must send (signed)")
    expires_at: datetime


class PresignOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"urls": [_PRESIGNED]}]})
    urls: list[PresignedOut]


class VerifyObject(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"key": ex.BLOB_KEY, "sha256": ex.SHA256, "size": 18355}]},
    )
    key: Key
    sha256: Sha256
    size: int = Field(ge=0)


class VerifyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"objects": [{"key": ex.BLOB_KEY, "sha256": ex.SHA256, "size": 18355}]}]
        },
    )
    objects: list[VerifyObject] = Field(min_length=1, max_length=64)


class VerifyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"stored": [ex.BLOB_KEY], "missing": [], "mismatched": []}]}
    )
    stored: list[str]
    missing: list[str]
    mismatched: list[str]


async def presigner_of(settings: SettingsDep) -> Presigner:
    s3 = settings.s3
    return Presigner(
        public_url=s3.client_url,
        bucket=s3.bucket,
        access_key=s3.access_key,
        secret_key=s3.secret_key.get_secret_value(),
        region=s3.region,
    )


PresignerDep = Annotated[Presigner, Depends(presigner_of)]


@router.post("/presign", summary="Presigned S3 URLs, one per object, valid for minutes")
async def presign(body: PresignIn, presigner: PresignerDep, settings: SettingsDep) -> PresignOut:
    out = []
    for obj in body.objects:
        if obj.method == "PUT":
            assert obj.sha256 is not None and obj.size is not None
            if obj.size > settings.max_blob_bytes:
                raise BlobTooLarge(
                    f"{obj.size} bytes is over the limit of {settings.max_blob_bytes}"
                )
            url = presigner.put(obj.key, obj.sha256, body.expires_s)
        else:
            url = presigner.get(obj.key, body.expires_s)
        out.append(
            PresignedOut(
                key=obj.key,
                method=url.method,
                url=url.url,
                headers=url.headers,
                expires_at=url.expires_at,
            )
        )
    return PresignOut(urls=out)


async def _digest_of(blobs: BlobStorage, key: str) -> tuple[int, str]:
    """Size and SHA-256 of a stored object: S3's own checksum, or (an object S3 keeps no
    checksum for) the SHA-256 of its bytes."""
    size, digest = await blobs.stored_checksum(key)
    if digest is None:
        data = await blobs.get_bytes(key)
        size, digest = len(data), hashlib.sha256(data).hexdigest()
    return size, digest


@router.post(
    "/blobs/verify",
    summary="Check objects PUT through presigned URLs; record them",
    responses=problem_responses(503),
)
async def verify_blobs(body: VerifyIn, blobs: BlobsDep, index: IndexDep) -> VerifyOut:
    async def one(obj: VerifyObject) -> str:
        try:
            size, digest = await _digest_of(blobs, obj.key)
        except BlobMissing:
            return "missing"
        if size != obj.size or digest != obj.sha256:
            return "mismatched"
        await index.record_blob(obj.key, size, digest)
        return "stored"

    try:
        results = await asyncio.gather(*(one(o) for o in body.objects))
    except BlobUnavailable as exc:
        raise StorageUnavailable(str(exc)) from exc
    by: dict[str, list[str]] = {"stored": [], "missing": [], "mismatched": []}
    for obj, result in zip(body.objects, results, strict=True):
        by[result].append(obj.key)
    return VerifyOut(**by)

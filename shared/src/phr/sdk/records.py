"""``RecordsClient``: upload, list, download, decrypt and delete records through owner-api.

All encryption happens here, on the client; owner-api sees ciphertext, capsules and
HMAC tags only. An upload is one begin (the signed manifest, checked once), parallel
PUTs of the segments straight to S3 through presigned URLs, and one commit; it is
idempotent under its ``upload_id``: calling :meth:`RecordsClient.upload_encrypted_record`
again with the same record and id after a failure (S3 down, connection lost) sends
only the segments not stored yet and commits; the record is announced once whatever
the number of attempts::

    async with RecordsClient(owner_api_url, token) as records:
        info = await records.upload_record(bundle, patient_id=pid, keys=OwnerKeys(master),
                                           author=user_keys.signing)
        bundle_again = await records.fetch_own_record(pid, info.record_id, master)

Large segments stream: :meth:`upload_segments` takes a source per segment (bytes, a
file, or a factory of a fresh chunk iterator for each attempt), so nothing holds a
whole segment in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import httpx

from phr.api.owner import RecordDetail, RecordOut, SegmentPut, UploadOut
from phr.client.access import decrypt_record, owner_secret
from phr.client.record import EncryptedRecord, RecipientKeys, encrypt_record
from phr.crypto.keys import PatientMasterKey
from phr.crypto.manifest import SignedRecordManifest, verify_manifest
from phr.crypto.published_keys import PatientKeys, verify_patient_keys
from phr.crypto.signing import SigningKey, VerifyKey
from phr.crypto.stream import DEFAULT_CHUNK_SIZE
from phr.identity.tokens import Audience
from phr.sdk.base import BearerClient, TokenSource, gather_all
from phr.sdk.errors import ApiError, problem_body

ChunkFactory = Callable[[], AsyncIterator[bytes] | Iterable[bytes]]
#: where a segment's ciphertext comes from: bytes, a file, or a factory of chunk iterators
#: (called once per attempt, so a retry can send the same bytes again)
SegmentSource = bytes | Path | ChunkFactory
T = TypeVar("T")


class RecordsError(ApiError):
    """owner-api refused or failed a call; ``problem`` is its RFC 9457 body."""


class IntegrityError(Exception):
    """Downloaded bytes do not match the SHA-256 announced for them."""


def new_upload_id() -> str:
    return "up_" + uuid.uuid4().hex


def new_record_id() -> str:
    return "r_" + uuid.uuid4().hex


class RecordsClient(BearerClient):
    """An owner-api client for one user (his token)."""

    audience: ClassVar[Audience] = "owner-api"

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        http: httpx.AsyncClient | None = None,
        concurrency: int = 8,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout_s: float = 60.0,
    ) -> None:
        super().__init__(token, http=http, timeout_s=timeout_s)
        self._base = base_url.rstrip("/")
        self._limit = asyncio.Semaphore(concurrency)
        self.chunk_size = chunk_size

    # ---------------------------------------------------------------- plumbing

    def _url(self, patient_id: str, path: str = "") -> str:
        return f"{self._base}/v1/patients/{patient_id}{path}"

    async def _request(
        self, method: str, url: str, *, ok: Sequence[int] = (200,), **kw: Any
    ) -> httpx.Response:
        headers = await self._headers() | kw.pop("headers", {})
        resp = await self._http.request(method, url, headers=headers, **kw)
        if resp.status_code not in ok:
            raise _error(resp)
        return resp

    # ---------------------------------------------------------------- upload

    async def upload_record(
        self,
        bundle: dict[str, Any] | str | bytes,
        *,
        patient_id: str,
        keys: RecipientKeys,
        author: SigningKey,
        record_id: str | None = None,
        upload_id: str | None = None,
        validate: bool = True,
        on_encrypted: Callable[[int], Callable[[int], None]] | None = None,
    ) -> RecordOut:
        """Validate, segment, encrypt and sign ``bundle``, then upload and commit it.

        ``on_encrypted(total_bytes)``, if given, is told the ciphertext size once the
        record is encrypted and returns a function told of each chunk sent (a progress bar).
        """
        record = await asyncio.to_thread(
            encrypt_record,
            bundle,
            patient_id=patient_id,
            record_id=record_id or new_record_id(),
            keys=keys,
            author=author,
            chunk_size=self.chunk_size,
            validate=validate,
        )
        sent = None
        if on_encrypted is not None:
            sent = on_encrypted(sum(len(seg.ciphertext) for seg in record.segments.values()))
        return await self.upload_encrypted_record(record, upload_id=upload_id, on_sent=sent)

    async def upload_encrypted_record(
        self,
        record: EncryptedRecord,
        *,
        upload_id: str | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> RecordOut:
        """Upload a record encrypted by :func:`phr.client.encrypt_record` (idempotent);
        ``on_sent`` is told the size of each chunk as it goes out."""
        sources: dict[str, SegmentSource] = {
            name: seg.ciphertext if on_sent is None else _counted(seg.ciphertext, on_sent)
            for name, seg in record.segments.items()
        }
        return await self.upload_segments(
            record.signed_manifest,
            tags={name: seg.tags for name, seg in record.segments.items()},
            sources=sources,
            upload_id=upload_id or _upload_id_for(record.signed_manifest),
        )

    async def upload_segments(
        self,
        signed_manifest: SignedRecordManifest,
        *,
        tags: Mapping[str, Sequence[str]],
        sources: Mapping[str, SegmentSource],
        upload_id: str,
    ) -> RecordOut:
        """Begin (or resume) an upload, PUT the segments not stored yet straight to S3 in
        parallel (presigned URLs; S3 checks each SHA-256), commit once."""
        manifest = signed_manifest.manifest
        state = await self.begin_upload(manifest.patient_id, signed_manifest, tags, upload_id)
        if state.status != "committed":
            sizes = {s.name: s.size for s in manifest.segments}

            async def send(name: str, put: SegmentPut) -> None:
                async with self._limit:
                    await self.send_segment(put, sources[name], sizes[name])

            await gather_all(*(send(name, put) for name, put in state.urls.items()))
        return await self.commit_upload(manifest.patient_id, upload_id)

    async def begin_upload(
        self,
        patient_id: str,
        signed_manifest: SignedRecordManifest,
        tags: Mapping[str, Sequence[str]],
        upload_id: str,
    ) -> UploadOut:
        body = {
            "upload_id": upload_id,
            "signed_manifest": signed_manifest.model_dump(mode="json"),
            "tags": {k: list(v) for k, v in tags.items()},
        }
        resp = await self._request(
            "POST", self._url(patient_id, "/uploads"), json=body, ok=(200, 201)
        )
        return UploadOut.model_validate(resp.json())

    async def send_segment(self, put: SegmentPut, source: SegmentSource, size: int) -> None:
        """PUT one segment's ciphertext (``size`` bytes, as the manifest signs) to S3
        through its presigned URL; S3 refuses bytes of another SHA-256 (400)."""
        headers = put.headers | {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size),
        }
        content: bytes | AsyncIterator[bytes] = (
            source if isinstance(source, bytes) else _chunks(source, self.chunk_size)
        )
        try:
            resp = await self._http.put(put.url, content=content, headers=headers)
        except httpx.TransportError as exc:
            # S3 went away mid-segment: as retryable as owner-api's own 503 would be
            raise RecordsError(
                503,
                {
                    "type": "about:blank",
                    "title": "Object storage unavailable",
                    "status": 503,
                    "detail": f"S3 did not take the segment ({type(exc).__name__})",
                },
            ) from exc
        if resp.status_code != 200:
            raise RecordsError(resp.status_code, _s3_problem(resp))

    async def commit_upload(self, patient_id: str, upload_id: str) -> RecordOut:
        resp = await self._request("POST", self._url(patient_id, f"/uploads/{upload_id}/commit"))
        return RecordOut.model_validate(resp.json())

    async def upload_state(self, patient_id: str, upload_id: str) -> UploadOut:
        resp = await self._request("GET", self._url(patient_id, f"/uploads/{upload_id}"))
        return UploadOut.model_validate(resp.json())

    async def abort_upload(self, patient_id: str, upload_id: str) -> None:
        """Give up a pending upload; owner-api removes whatever it stored."""
        await self._request("DELETE", self._url(patient_id, f"/uploads/{upload_id}"), ok=(204,))

    # ---------------------------------------------------------------- read

    async def list_records(
        self, patient_id: str, *, include_deleted: bool = False, limit: int = 100
    ) -> list[RecordOut]:
        params = {"include_deleted": str(include_deleted).lower(), "limit": limit}
        resp = await self._request("GET", self._url(patient_id, "/records"), params=params)
        return [RecordOut.model_validate(r) for r in resp.json()]

    async def get_record(self, patient_id: str, record_id: str) -> RecordDetail:
        resp = await self._request("GET", self._url(patient_id, f"/records/{record_id}"))
        return RecordDetail.model_validate(resp.json())

    @asynccontextmanager
    async def stream_segment(
        self, patient_id: str, record_id: str, segment: str
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """The segment's ciphertext as chunks; raises :class:`IntegrityError` at the end if
        the bytes differ from the SHA-256 owner-api announced (or stop short)."""
        url = self._url(patient_id, f"/records/{record_id}/segments/{segment}")
        request = self._http.build_request("GET", url, headers=await self._headers())
        resp = await self._http.send(request, stream=True)
        try:
            if resp.status_code != 200:
                await resp.aread()
                raise _error(resp)
            expected = resp.headers.get("X-Content-SHA256", "")

            async def chunks() -> AsyncIterator[bytes]:
                digest = hashlib.sha256()
                try:
                    async for chunk in resp.aiter_bytes():
                        digest.update(chunk)
                        yield chunk
                except httpx.TransportError as exc:
                    raise IntegrityError(
                        f"segment {segment}: the download broke off ({type(exc).__name__}); "
                        "the stored ciphertext may be corrupted"
                    ) from exc
                if digest.hexdigest() != expected:
                    raise IntegrityError(f"segment {segment}: SHA-256 differs from the stored one")

            yield chunks()
        finally:
            await resp.aclose()

    async def download_segment(
        self,
        patient_id: str,
        record_id: str,
        segment: str,
        on_bytes: Callable[[int], None] | None = None,
    ) -> bytes:
        """A segment's whole ciphertext, SHA-256 checked; ``on_bytes(n)`` per chunk."""
        parts = []
        async with self.stream_segment(patient_id, record_id, segment) as chunks:
            async for chunk in chunks:
                parts.append(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
        return b"".join(parts)

    async def fetch_own_record(
        self,
        patient_id: str,
        record_id: str,
        master: PatientMasterKey,
        *,
        segments: Iterable[str] | None = None,
        expected_author: VerifyKey | None = None,
        validate: bool = True,
        on_download: Callable[[int], Callable[[int], None]] | None = None,
    ) -> dict[str, Any]:
        """Download and decrypt the patient's own record (or some segments) into a Bundle.

        ``on_download``, if given, is told the ciphertext bytes to download and returns
        the function told each chunk's size (a progress bar)."""
        detail = await self.get_record(patient_id, record_id)
        signed = SignedRecordManifest.model_validate(detail.signed_manifest)
        manifest = verify_manifest(signed, expected_author=expected_author)
        if manifest.patient_id != patient_id or manifest.record_id != record_id:
            raise IntegrityError("owner-api served the manifest of another record")
        names = list(segments) if segments is not None else [e.name for e in manifest.segments]
        total = sum(e.size for e in manifest.segments if e.name in names)
        advance = on_download(total) if on_download is not None else None

        async def fetch(name: str) -> tuple[str, bytes]:
            async with self._limit:
                return name, await self.download_segment(patient_id, record_id, name, advance)

        ciphertexts = dict(await gather_all(*(fetch(n) for n in names)))
        secrets = {n: owner_secret(master, manifest.segment(n)) for n in names}
        return await asyncio.to_thread(
            decrypt_record,
            signed,
            secrets=secrets,
            ciphertexts={n: [c] for n, c in ciphertexts.items()},
            expected_author=expected_author,
            validate=validate,
        )

    # ---------------------------------------------------------------- delete, contributors

    async def delete_record(self, patient_id: str, record_id: str) -> RecordOut:
        """Delete a record (ciphertext, tags and capsules); returns its tombstone."""
        resp = await self._request("DELETE", self._url(patient_id, f"/records/{record_id}"))
        return RecordOut.model_validate(resp.json())

    async def published_keys(self, patient_id: str, *, author: VerifyKey) -> PatientKeys:
        """The patient's signed segment public keys (what a contributor encrypts to),
        verified against ``author``: the patient's Ed25519 key, from the KGC's directory."""
        resp = await self._request("GET", self._url(patient_id, "/keys"))
        signed = resp.json().get("signed_keys")
        if signed is None:
            raise RecordsError(
                409,
                {"title": "No published keys", "detail": f"{patient_id} published no keys yet"},
            )
        keys = verify_patient_keys(signed, expected_author=author)
        if keys.patient_id != patient_id:
            raise IntegrityError("owner-api served another patient's keys")
        return keys

    async def add_contributor(self, patient_id: str, org_id: str) -> None:
        await self._request("PUT", self._url(patient_id, f"/contributors/{org_id}"))

    async def remove_contributor(self, patient_id: str, org_id: str) -> None:
        await self._request("DELETE", self._url(patient_id, f"/contributors/{org_id}"), ok=(204,))

    async def contributors(self, patient_id: str) -> list[str]:
        resp = await self._request("GET", self._url(patient_id, "/contributors"))
        return [str(c["org_id"]) for c in resp.json()]


# -------------------------------------------------------------------- helpers


def _upload_id_for(signed: SignedRecordManifest) -> str:
    """A stable upload id for one signed manifest: retries of it reuse the upload."""
    return "up_" + hashlib.sha256(signed.signature.encode()).hexdigest()[:32]


def _error(resp: httpx.Response) -> RecordsError:
    return RecordsError(resp.status_code, problem_body(resp))


def _s3_problem(resp: httpx.Response) -> dict[str, Any]:
    """S3's XML error as a problem body (its code only: S3 messages can be long)."""
    code = resp.text.split("<Code>", 1)[-1].split("</Code>", 1)[0] if "<Code>" in resp.text else ""
    return {
        "type": "about:blank",
        "title": "S3 refused the segment",
        "status": resp.status_code,
        "detail": f"S3 answered {resp.status_code} {code}".strip(),
    }


def _counted(data: bytes, on_sent: Callable[[int], None], step: int = 256 * 1024) -> ChunkFactory:
    """``data`` as chunks of ``step`` bytes, each reported to ``on_sent`` as it is taken."""

    def chunks() -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(data), step):
            chunk = view[start : start + step]
            on_sent(len(chunk))
            yield bytes(chunk)

    return chunks


async def _chunks(source: Path | ChunkFactory, chunk_size: int) -> AsyncIterator[bytes]:
    if isinstance(source, Path):
        with source.open("rb") as fh:
            while chunk := await asyncio.to_thread(fh.read, chunk_size):
                yield chunk
        return
    produced = source()
    if isinstance(produced, AsyncIterator):
        async for chunk in produced:
            yield bytes(chunk)
    else:
        for chunk in produced:
            yield bytes(chunk)

"""owner-api's HTTP routes: thin handlers over RecordService (see records.py for the protocol)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from owner_api.deps import RecordsDep, StoreDep
from owner_api.records.service import RecordService
from owner_api.records.views import (
    contributor_from_doc,
    record_detail_from_doc,
    record_from_doc,
    upload_from_doc,
)
from phr.api.ids import ID_PATTERN
from phr.api.owner import ContributorOut, RecordDetail, RecordOut, SegmentPut, UploadIn, UploadOut
from phr.service.auth import CurrentPrincipal, PatientSelf
from phr.service.limits import MIB
from phr.service.mongo import Document
from phr.service.openapi import CIPHERTEXT
from phr.service.problems import problem_responses

router = APIRouter(prefix="/v1/patients/{patient_id}")

PatientId = Annotated[str, Path(pattern=ID_PATTERN)]
Id = Annotated[str, Path(pattern=ID_PATTERN)]
_PROBLEM = problem_responses(400, 403, 404, 409, 413, 503)


# ---------------------------------------------------------------- uploads


async def _upload_out(records: RecordService, doc: Document) -> UploadOut:
    """The upload's state, with fresh presigned PUTs for what is still to send."""
    urls = await records.upload_urls(doc)
    return upload_from_doc(
        doc,
        {
            name: SegmentPut(url=u.url, headers=u.headers, expires_at=u.expires_at)
            for name, u in urls.items()
        },
    )


@router.post(
    "/uploads",
    tags=["uploads"],
    status_code=201,
    summary="Begin an upload: signed manifest and tags in, presigned S3 PUTs out (201 new, "
    "200 identical retry)",
    responses=_PROBLEM
    | problem_responses(410)
    | {200: {"model": UploadOut, "description": "An identical retry: the upload as it is"}},
    max_body_size=16 * MIB,  # a manifest's keyword tags (HMACs) run to megabytes
)
async def begin_upload(
    patient_id: PatientId,
    body: UploadIn,
    caller: CurrentPrincipal,
    records: RecordsDep,
    response: Response,
) -> UploadOut:
    doc, created = await records.begin_upload(caller, patient_id, body)
    if not created:
        response.status_code = 200
    return await _upload_out(records, doc)


@router.get(
    "/uploads/{upload_id}",
    tags=["uploads"],
    summary="An upload's state, with new presigned PUTs for what is missing (to resume it)",
    responses=problem_responses(403, 404, 410, 503),
)
async def get_upload(
    patient_id: PatientId, upload_id: Id, caller: CurrentPrincipal, records: RecordsDep
) -> UploadOut:
    return await _upload_out(records, await records.get_upload(caller, patient_id, upload_id))


@router.post(
    "/uploads/{upload_id}/commit",
    tags=["uploads"],
    summary="Commit: every segment checked in S3 (409 lists the missing); record.uploaded once",
    responses=_PROBLEM | problem_responses(410),
)
async def commit_upload(
    patient_id: PatientId, upload_id: Id, caller: CurrentPrincipal, records: RecordsDep
) -> RecordOut:
    return record_from_doc(await records.commit(caller, patient_id, upload_id))


@router.delete(
    "/uploads/{upload_id}",
    tags=["uploads"],
    status_code=204,
    summary="Abort a pending upload; removes whatever it stored",
    responses=problem_responses(403, 404, 409, 410, 503),
)
async def abort_upload(
    patient_id: PatientId, upload_id: Id, caller: CurrentPrincipal, records: RecordsDep
) -> Response:
    await records.abort(caller, patient_id, upload_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- records


@router.get("/records", tags=["records"], summary="The patient's records (metadata only)")
async def list_records(
    patient_id: PatientId,
    caller: CurrentPrincipal,
    records: RecordsDep,
    include_deleted: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecordOut]:
    docs = await records.list_records(
        caller, patient_id, include_deleted=include_deleted, limit=limit
    )
    return [record_from_doc(d) for d in docs]


@router.get(
    "/records/{record_id}",
    tags=["records"],
    summary="One record with its signed manifest (capsules), to decrypt it",
    responses=_PROBLEM | problem_responses(410),
)
async def get_record(
    patient_id: PatientId, record_id: Id, caller: CurrentPrincipal, records: RecordsDep
) -> RecordDetail:
    return record_detail_from_doc(await records.committed(caller, patient_id, record_id))


@router.get(
    "/records/{record_id}/segments/{segment}",
    tags=["records"],
    summary="A segment's ciphertext (streamed; the patient himself)",
    response_class=StreamingResponse,
    responses=_PROBLEM | problem_responses(502) | {200: CIPHERTEXT},
)
async def download_segment(
    patient_id: PatientId,
    record_id: Id,
    segment: Id,
    caller: CurrentPrincipal,
    records: RecordsDep,
) -> StreamingResponse:
    blob = await records.download(caller, patient_id, record_id, segment)
    headers = {"X-Content-SHA256": blob.sha256, "Content-Length": str(blob.size)}
    return StreamingResponse(blob.chunks, media_type="application/octet-stream", headers=headers)


@router.delete(
    "/records/{record_id}",
    tags=["records"],
    summary="Delete a record: ciphertext removed, capsules erased, tombstone kept",
    responses=_PROBLEM,
)
async def delete_record(
    patient_id: PatientId, record_id: Id, caller: CurrentPrincipal, records: RecordsDep
) -> RecordOut:
    return record_from_doc(await records.delete(caller, patient_id, record_id))


# ---------------------------------------------------------------- contributors


@router.get("/contributors", tags=["contributors"], summary="Organisations allowed to write")
async def list_contributors(
    patient_id: PatientId, _: PatientSelf, store: StoreDep
) -> list[ContributorOut]:
    return [contributor_from_doc(d) for d in await store.contributors_of(patient_id)]


@router.put(
    "/contributors/{org_id}",
    tags=["contributors"],
    summary="Let an organisation's staff upload records for this patient",
)
async def add_contributor(
    patient_id: PatientId,
    org_id: Annotated[str, Path(pattern=ID_PATTERN)],
    _: PatientSelf,
    store: StoreDep,
) -> ContributorOut:
    return contributor_from_doc(await store.add_contributor(patient_id, org_id))


@router.delete(
    "/contributors/{org_id}",
    tags=["contributors"],
    status_code=204,
    summary="Withdraw an organisation's right to upload",
)
async def remove_contributor(
    patient_id: PatientId,
    org_id: Annotated[str, Path(pattern=ID_PATTERN)],
    _: PatientSelf,
    store: StoreDep,
) -> Response:
    await store.remove_contributor(patient_id, org_id)
    return Response(status_code=204)

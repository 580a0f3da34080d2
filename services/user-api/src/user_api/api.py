"""user-api's HTTP routes: thin handlers over SearchService and AccessService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from phr.api.ids import ID_PATTERN
from phr.api.user import (
    AccessIn,
    AccessOut,
    BreakglassList,
    BreakglassOut,
    SearchIn,
    SearchOut,
    SharedDetail,
    SharedOut,
)
from phr.service.auth import PatientSelf
from phr.service.problems import BadRequest, problem_responses
from user_api.deps import AccessDep, BearerToken, DataUser, SearchDep, StoreDep

router = APIRouter(prefix="/v1")

Id = Annotated[str, Path(pattern=ID_PATTERN)]


@router.post(
    "/search",
    tags=["search"],
    summary="Segments granted to the caller that hold every trapdoor's keyword",
    responses=problem_responses(401, 403, 503),
)
async def search(body: SearchIn, caller: DataUser, searches: SearchDep) -> SearchOut:
    return SearchOut(matches=await searches.search(caller, body.trapdoors, body.patient_id))


@router.get(
    "/shared",
    tags=["search"],
    summary="Patients who granted the caller segments, and their records holding them",
    responses=problem_responses(
        400, 401, 403, 503, descriptions={400: "emergency=true without a patient_id"}
    ),
)
async def shared(
    caller: DataUser,
    searches: SearchDep,
    patient_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    emergency: Annotated[
        bool, Query(description="include break-glass segments (needs patient_id)")
    ] = False,
) -> SharedOut:
    if emergency and patient_id is None:
        raise BadRequest("emergency listings are per patient: give patient_id")
    return SharedOut(patients=await searches.shared_with(caller, patient_id, emergency=emergency))


@router.get(
    "/shared/{patient_id}",
    tags=["search"],
    summary="One patient's grants to the caller (any status), readable records, withheld segments",
    responses=problem_responses(401, 403, 503),
)
async def shared_detail(patient_id: Id, caller: DataUser, searches: SearchDep) -> SharedDetail:
    return await searches.shared_detail(caller, patient_id)


@router.post(
    "/access",
    tags=["access"],
    summary="Ask every SRS node for cfrags of a record's segments (t of N suffice)",
    responses=problem_responses(401, 403, 404, 410, 422, 503),
)
async def request_access(
    body: AccessIn, caller: DataUser, token: BearerToken, access: AccessDep, request: Request
) -> AccessOut:
    correlation_id: str | None = getattr(request.state, "correlation_id", None)
    return await access.request_access(caller, token, body, correlation_id=correlation_id)


@router.get(
    "/breakglass",
    tags=["break-glass"],
    summary="Break-glass accesses to the caller's own records, flagged for review",
    responses=problem_responses(401, 403),
)
async def breakglass(
    patient_id: Annotated[str, Query(pattern=ID_PATTERN)],
    _: PatientSelf,
    store: StoreDep,
) -> BreakglassList:
    docs = await store.breakglass_of(patient_id)
    return BreakglassList(
        patient_id=patient_id,
        accesses=[
            BreakglassOut(
                request_id=str(d["request_id"]),
                patient_id=d["patient_id"],
                record_id=d.get("record_id"),
                requester_id=d["requester_id"],
                segments=sorted(d.get("segments", [])),
                reason=d["reason"],
                nodes=sorted(d.get("nodes", [])),
                expires_in_s=int(d.get("expires_in_s", 0)),
                first_seen=d["first_seen"],
                review=d.get("review", "pending"),
            )
            for d in docs
        ],
    )

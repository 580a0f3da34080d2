"""HTTP API of the KGC; thin handlers over Directory, LoginService and Tracer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from kgc.deps import CorrelationDep, DirectoryDep, GroupsDep, LoginDep, ParamsDep, TracerDep
from kgc.users import is_operator, parse_selector
from kgc.views import org_view_from_doc, user_view_from_doc
from phr.api import examples as ex
from phr.api.kgc import (
    ChallengeRequest,
    ChallengeResponse,
    EnrolRequest,
    EnrolResponse,
    GroupCreate,
    GroupView,
    MemberKey,
    OrgCreate,
    OrgView,
    RevokeRequest,
    TokenRequest,
    TokenResponse,
    TraceRequest,
    TraceResponse,
    UserView,
)
from phr.identity.roles import STAFF
from phr.service.auth import CurrentPrincipal, RequireAdmin
from phr.service.problems import BadRequest, Forbidden, problem_responses

router = APIRouter(prefix="/v1")


_PARAMS_EXAMPLE = {
    "params": {
        "version": 1,
        "issued_at": ex.TIME,
        "kgc": {
            "ed25519_public": ex.ED25519_PUBLIC,
            "fingerprint": ex.FINGERPRINT,
            "url": "https://kgc.phr.example",
        },
        "token": {"alg": "EdDSA", "issuer": "kgc", "audience": "phr", "ttl_s": 900},
        "srs": {
            "threshold": 2,
            "nodes": [
                {
                    "id": f"srs-{n}",
                    "url": f"https://srs-{n}.phr.example",
                    "x25519_public": ex.X25519_PUBLIC,
                    "ed25519_public": ex.ED25519_PUBLIC,
                }
                for n in (1, 2, 3)
            ],
        },
        "segments": ["demographics", "conditions", "labs", "medications", "notes"],
    },
    "signature": ex.SIGNATURE,
}


@router.get(
    "/params",
    tags=["params"],
    summary="The signed system parameters",
    responses={200: {"content": {"application/json": {"example": _PARAMS_EXAMPLE}}}},
)
async def get_params(params: ParamsDep) -> dict[str, Any]:
    return params.model_dump(mode="json")


# ---------------------------------------------------------------- organisations


@router.post(
    "/orgs",
    tags=["organisations"],
    status_code=201,
    summary="Create an organisation",
    responses=problem_responses(403, 409, descriptions={409: "An organisation of that name"}),
)
async def create_org(body: OrgCreate, admin: RequireAdmin, directory: DirectoryDep) -> OrgView:
    if not is_operator(admin):
        raise Forbidden("only the operator creates organisations")
    return org_view_from_doc(await directory.create_org(body, admin.sub))


@router.get("/orgs", tags=["organisations"], summary="Every organisation")
async def list_orgs(
    _: CurrentPrincipal,
    directory: DirectoryDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrgView]:
    return [org_view_from_doc(d) for d in await directory.list_orgs(limit)]


@router.get("/orgs/{org_id}", tags=["organisations"], summary="One organisation")
async def get_org(org_id: str, _: CurrentPrincipal, directory: DirectoryDep) -> OrgView:
    return org_view_from_doc(await directory.get_org(org_id))


# ---------------------------------------------------------------- users


@router.post(
    "/users",
    tags=["users"],
    status_code=201,
    summary="Enrol with keys made on the user's side (patients active, staff pending)",
    responses=problem_responses(400, 404, 409),
)
async def enrol(body: EnrolRequest, directory: DirectoryDep, cid: CorrelationDep) -> EnrolResponse:
    doc = await directory.enrol(body, cid)
    return EnrolResponse(user_id=doc["_id"], status=doc["status"], credential=doc["credential"])


@router.get("/users/{user_id}", tags=["directory"], summary="A user's public keys and attributes")
async def get_user(user_id: str, _: CurrentPrincipal, directory: DirectoryDep) -> UserView:
    return user_view_from_doc(await directory.get(user_id))


@router.get(
    "/users",
    tags=["directory"],
    summary="Users matching an attribute selector, e.g. selector=role=doctor,org=org_1",
    responses=problem_responses(400, 403),
)
async def find_users(
    caller: CurrentPrincipal,
    directory: DirectoryDep,
    selector: Annotated[str | None, Query(max_length=256)] = None,
    role: Annotated[str | None, Query(max_length=32)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    dept: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = "active",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[UserView]:
    try:
        query = parse_selector(selector, role=role, org=org, dept=dept, status=status)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    # Listing patients is for staff only: a patient learns nothing about other patients.
    if not (caller.is_staff or caller.is_service) and query.get("role") not in STAFF:
        raise Forbidden("patients may look up staff (give a staff role), not other patients")
    return [user_view_from_doc(d) for d in await directory.find(query, limit)]


@router.post(
    "/users/{user_id}/approve",
    tags=["users"],
    summary="Approve a pending staff user",
    responses=problem_responses(403, 404, 409, descriptions={409: "The user is not pending"}),
)
async def approve(
    user_id: str, admin: RequireAdmin, directory: DirectoryDep, cid: CorrelationDep
) -> UserView:
    return user_view_from_doc(await directory.approve(user_id, admin, cid))


@router.post("/users/{user_id}/revoke", tags=["users"], summary="Revoke a user everywhere")
async def revoke(
    user_id: str,
    body: RevokeRequest,
    admin: RequireAdmin,
    directory: DirectoryDep,
    cid: CorrelationDep,
) -> UserView:
    doc = await directory.revoke(
        user_id, by=admin.sub, reason=body.reason, correlation_id=cid, admin=admin
    )
    return user_view_from_doc(doc)


# ---------------------------------------------------------------- login


@router.post("/auth/challenge", tags=["auth"], summary="A single-use login nonce")
async def challenge(body: ChallengeRequest, login: LoginDep) -> ChallengeResponse:
    nonce = await login.challenge(body.user_id)
    return ChallengeResponse(user_id=body.user_id, nonce=nonce, expires_in=login.challenge_ttl_s)


@router.post(
    "/auth/token",
    tags=["auth"],
    summary="An access token for a signed challenge",
    responses=problem_responses(401, 403, 429),
)
async def token(body: TokenRequest, login: LoginDep, request: Request) -> TokenResponse:
    # The peer's address, not a forwarded header: a client could name any address there.
    source = request.client.host if request.client else "?"
    jwt = await login.login(
        body.user_id, body.nonce, body.signature, source=source, audience=body.audience
    )
    return TokenResponse(access_token=jwt, expires_in=login.token_ttl_s)


# ---------------------------------------------------------------- tracing


@router.post(
    "/trace",
    tags=["tracing"],
    summary="Name and revoke the user a leaked secret key belongs to",
    responses=problem_responses(400, 404),
)
async def trace(
    body: TraceRequest, admin: RequireAdmin, tracer: TracerDep, cid: CorrelationDep
) -> TraceResponse:
    return await tracer.trace(body, admin, cid)


# ---------------------------------------------------------------- groups (see kgc.groups)


@router.post(
    "/groups",
    tags=["groups"],
    status_code=201,
    summary="The key pair of an attribute selector (201 new, 200 existing; idempotent)",
    responses=problem_responses(400, 403)
    | {200: {"model": GroupView, "description": "The group existed: its keys"}},
)
async def create_group(
    body: GroupCreate, caller: CurrentPrincipal, groups: GroupsDep, response: Response
) -> GroupView:
    if not (caller.role in ("patient", "caregiver") or caller.is_staff or caller.is_service):
        raise Forbidden("patients, caregivers, staff and services may create groups")
    doc, created = await groups.create(body.selector, caller.sub)
    if not created:
        response.status_code = 200
    return GroupView.model_validate(groups.view(doc))


@router.get("/groups/{group_id}", tags=["groups"], summary="A group's selector and public keys")
async def get_group(group_id: str, _: CurrentPrincipal, groups: GroupsDep) -> GroupView:
    return GroupView.model_validate(groups.view(await groups.get(group_id)))


@router.get(
    "/groups/{group_id}/member-key",
    tags=["groups"],
    summary="The group's secret keys, sealed to the calling member's Umbral key",
    responses=problem_responses(403, 404),
)
async def member_key(group_id: str, caller: CurrentPrincipal, groups: GroupsDep) -> MemberKey:
    return MemberKey.model_validate(await groups.member_keys(group_id, caller.sub))

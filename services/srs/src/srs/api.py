"""HTTP routes of one SRS node; thin: checks who calls, hands over to the use case."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from phr.api.srs import GrantList, NodeInfo, ReencryptRequest, ReencryptResponse
from phr.service.auth import CurrentPrincipal
from phr.service.problems import Forbidden, problem_responses
from srs.acl import Caller
from srs.deps import NodeDep, ReencryptorDep, StateDep, StoreDep
from srs.errors import NotADataUser

router = APIRouter(prefix="/v1", tags=["srs"])
_problems = problem_responses(
    401, 403, 503, descriptions={503: "Access events could not be recorded: no cfrags given out"}
)


@router.get("/node", summary="This node's id and public keys")
async def node_info(
    state: StateDep,
) -> NodeInfo:
    node, stats, store = state.node, state.stats, state.store
    return NodeInfo(
        node_id=node.node_id,
        x25519_public=node.secret.public_key().b64(),
        ed25519_public=state.signing_public,
        breakglass_window_s=state.reencryptor.breakglass_window_s,
        events={
            "applied": stats.applied,
            "rejected_envelopes": stats.rejected_envelopes,
            "rejected_grants": await store.count_rejections(),
            "pending_grants": stats.pending_grants,
            "ignored": stats.ignored,
        },
    )


@router.get(
    "/grants",
    summary="Grant metadata held at this node for one patient (never a kfrag)",
    responses={k: v for k, v in _problems.items() if k != 503},
)
async def list_grants(
    principal: CurrentPrincipal,
    node: NodeDep,
    store: StoreDep,
    patient_id: str = Query(min_length=1, max_length=128),
) -> GrantList:
    if not principal.is_service and not (
        principal.role == "patient" and principal.sub == patient_id
    ):
        raise Forbidden("only the patient himself or a service may list a patient's grants")
    grants = await store.grants_for_patient(patient_id)
    return GrantList(
        node_id=node.node_id,
        patient_id=patient_id,
        key_versions=await store.key_versions(patient_id),
        grants=[g.to_json() for g in grants],
    )


@router.post(
    "/reencrypt",
    summary="Re-encrypt a record's segment capsules for the calling grantee",
    responses=_problems,
)
async def reencrypt(
    body: ReencryptRequest,
    principal: CurrentPrincipal,
    reencryptor: ReencryptorDep,
    request: Request,
) -> ReencryptResponse:
    if principal.is_service:
        raise NotADataUser("send the data user's own token: grants are per user")
    caller = Caller(
        user_id=principal.sub, role=principal.role, org=principal.org, dept=principal.dept
    )
    correlation_id: str | None = getattr(request.state, "correlation_id", None)
    return await reencryptor.answer(caller, body, correlation_id=correlation_id)

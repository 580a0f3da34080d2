"""owner-api's access-control routes: grants, keys and rotation, delegation, emergency.

Thin handlers over GrantService, KeyService and DelegationService (see those modules
for who may do what and what each change announces).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from owner_api.deps import DelegationsDep, GrantsDep, KeysDep
from owner_api.errors import NotDelegated
from owner_api.records.views import record_detail_from_doc
from owner_api.sharing.views import delegation_from_doc, grant_from_doc
from phr.api.ids import ID_PATTERN
from phr.api.owner import (
    DelegateKeysOut,
    DelegationIn,
    DelegationOut,
    EmergencyIn,
    EmergencyOut,
    GrantIn,
    GrantOut,
    KeyGrantsIn,
    KeysIn,
    KeysOut,
    ManifestIn,
    RecordDetail,
    RotateIn,
    RotateOut,
)
from phr.service.auth import CurrentPrincipal
from phr.service.mongo import Document
from phr.service.problems import problem_responses

router = APIRouter(prefix="/v1/patients/{patient_id}")

PatientId = Annotated[str, Path(pattern=ID_PATTERN)]
UserId = Annotated[str, Path(pattern=ID_PATTERN)]
GrantId = Annotated[str, Path(pattern=ID_PATTERN)]
RecordId = Annotated[str, Path(pattern=ID_PATTERN)]
_PROBLEM = problem_responses(400, 403, 404, 409, 503)


def _keys_out(patient_id: str, doc: Document) -> KeysOut:
    return KeysOut(
        patient_id=patient_id,
        versions={k: int(v) for k, v in doc.get("versions", {}).items()},
        signed_keys=doc.get("signed_keys"),
    )


# ---------------------------------------------------------------- grants


@router.post(
    "/grants",
    tags=["grants"],
    status_code=201,
    summary="Grant segments to a user or group; emits acl.granted once (200 on a retry)",
    responses=_PROBLEM
    | {200: {"model": GrantOut, "description": "An identical retry: the grant as it is"}},
)
async def create_grant(
    patient_id: PatientId,
    body: GrantIn,
    caller: CurrentPrincipal,
    grants: GrantsDep,
    response: Response,
) -> GrantOut:
    doc, created = await grants.grant(caller, patient_id, body)
    if not created:
        response.status_code = 200
    return grant_from_doc(doc)


@router.get("/grants", tags=["grants"], summary="The patient's grants (metadata, no kfrags)")
async def list_grants(
    patient_id: PatientId, caller: CurrentPrincipal, grants: GrantsDep
) -> list[GrantOut]:
    return [grant_from_doc(d) for d in await grants.list(caller, patient_id)]


@router.get("/grants/{grant_id}", tags=["grants"], summary="One grant", responses=_PROBLEM)
async def get_grant(
    patient_id: PatientId, grant_id: GrantId, caller: CurrentPrincipal, grants: GrantsDep
) -> GrantOut:
    return grant_from_doc(await grants.get(caller, patient_id, grant_id))


@router.post(
    "/grants/{grant_id}/key-grants",
    tags=["grants"],
    summary="Key grants for new key versions (after a rotation); emits acl.granted again",
    responses=_PROBLEM,
)
async def add_key_grants(
    patient_id: PatientId,
    grant_id: GrantId,
    body: KeyGrantsIn,
    caller: CurrentPrincipal,
    grants: GrantsDep,
) -> GrantOut:
    doc = await grants.add_key_grants(caller, patient_id, grant_id, body.key_grants)
    return grant_from_doc(doc)


@router.delete(
    "/grants/{grant_id}",
    tags=["grants"],
    summary="Revoke a grant; emits acl.revoked once (SRS nodes delete its kfrags)",
    description=(
        "Answers 200 once enough SRS nodes have applied the revocation that no threshold "
        "of them serves the grant any more: the grantee is denied from then on. A "
        "repeated call is harmless (one `acl.revoked` in all) and waits again."
    ),
    responses={
        **_PROBLEM,
        202: {
            "model": GrantOut,
            "description": "Revoked and emitted, but too few SRS nodes confirmed it in "
            "time; they apply it when they catch up. Call again to wait again.",
        },
    },
)
async def revoke_grant(
    patient_id: PatientId,
    grant_id: GrantId,
    caller: CurrentPrincipal,
    grants: GrantsDep,
    response: Response,
) -> GrantOut:
    doc, enforced = await grants.revoke(caller, patient_id, grant_id)
    if not enforced:
        response.status_code = 202
    return grant_from_doc(doc)


# ---------------------------------------------------------------- keys


@router.get("/keys", tags=["keys"], summary="Current key versions and signed public keys")
async def get_keys(patient_id: PatientId, _: CurrentPrincipal, keys: KeysDep) -> KeysOut:
    return _keys_out(patient_id, await keys.keys(patient_id))


@router.put(
    "/keys",
    tags=["keys"],
    summary="Publish the patient's signed segment public keys (current versions)",
    responses=_PROBLEM,
)
async def put_keys(
    patient_id: PatientId, body: KeysIn, caller: CurrentPrincipal, keys: KeysDep
) -> KeysOut:
    return _keys_out(patient_id, await keys.publish(caller, patient_id, body.signed_keys))


@router.post(
    "/keys/rotate",
    tags=["keys"],
    summary="Move segments to a new key version; emits key.rotated per segment",
    responses=_PROBLEM,
)
async def rotate_keys(
    patient_id: PatientId, body: RotateIn, caller: CurrentPrincipal, keys: KeysDep
) -> RotateOut:
    versions = await keys.rotate(caller, patient_id, body.segments)
    return RotateOut(patient_id=patient_id, versions=versions)


@router.put(
    "/records/{record_id}/manifest",
    tags=["keys"],
    summary="Replace a record's manifest by one with re-wrapped capsules; re-announces it",
    responses=_PROBLEM | problem_responses(410),
)
async def replace_manifest(
    patient_id: PatientId,
    record_id: RecordId,
    body: ManifestIn,
    caller: CurrentPrincipal,
    keys: KeysDep,
) -> RecordDetail:
    return record_detail_from_doc(await keys.replace_manifest(caller, patient_id, record_id, body))


@router.put(
    "/emergency",
    tags=["emergency"],
    summary="Choose the segments a break-glass (emergency) grant may open",
    responses=_PROBLEM,
)
async def set_emergency(
    patient_id: PatientId, body: EmergencyIn, caller: CurrentPrincipal, keys: KeysDep
) -> EmergencyOut:
    segments = await keys.set_emergency(caller, patient_id, body.segments)
    return EmergencyOut(patient_id=patient_id, segments=segments)


@router.get("/emergency", tags=["emergency"], summary="The segments break-glass may open")
async def get_emergency(patient_id: PatientId, _: CurrentPrincipal, keys: KeysDep) -> EmergencyOut:
    doc = await keys.keys(patient_id)
    return EmergencyOut(patient_id=patient_id, segments=doc.get("emergency_segments", []))


# ---------------------------------------------------------------- delegations


@router.get("/delegations", tags=["delegations"], summary="The patient's delegations")
async def list_delegations(
    patient_id: PatientId, caller: CurrentPrincipal, delegations: DelegationsDep
) -> list[DelegationOut]:
    return [delegation_from_doc(d) for d in await delegations.list(caller, patient_id)]


@router.put(
    "/delegations/{delegate_user_id}",
    tags=["delegations"],
    summary="Name a caregiver or guardian who may grant and revoke within segments",
    responses=_PROBLEM,
)
async def put_delegation(
    patient_id: PatientId,
    delegate_user_id: UserId,
    body: DelegationIn,
    caller: CurrentPrincipal,
    delegations: DelegationsDep,
) -> DelegationOut:
    doc = await delegations.put(caller, patient_id, delegate_user_id, body)
    return delegation_from_doc(doc)


@router.delete(
    "/delegations/{delegate_user_id}",
    tags=["delegations"],
    summary="End a delegation; emits delegation.changed (inactive)",
    responses=_PROBLEM,
)
async def end_delegation(
    patient_id: PatientId,
    delegate_user_id: UserId,
    caller: CurrentPrincipal,
    delegations: DelegationsDep,
) -> DelegationOut:
    return delegation_from_doc(await delegations.end(caller, patient_id, delegate_user_id))


@router.get(
    "/delegations/{delegate_user_id}/keys",
    tags=["delegations"],
    summary="The delegate's scope and the segment keys sealed to him (the delegate only)",
    responses=_PROBLEM,
)
async def delegate_keys(
    patient_id: PatientId,
    delegate_user_id: UserId,
    caller: CurrentPrincipal,
    delegations: DelegationsDep,
) -> DelegateKeysOut:
    if caller.sub != delegate_user_id:
        raise NotDelegated("only the delegate himself fetches his keys")
    doc = await delegations.keys_for_delegate(caller, patient_id)
    return DelegateKeysOut(
        patient_id=patient_id, segments=doc["segments"], sealed_keys=doc["sealed_keys"]
    )

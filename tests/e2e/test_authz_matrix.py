"""The authorisation matrix (issue 19, part 7): every route of every service × every role.

The routes come from each running service's own OpenAPI document, so a route added
without a row in :data:`MATRIX` fails the test (and a row naming a route no longer
served fails it too). Each cell is one request against the session stack, with the
same body for every role: a body the patient's own SDK sent to that route while the
world was built (captured by an httpx hook), so what refuses a caller is his role and
not a malformed request.

The roles, in the order of each row's letters:

    anon     no token                      grantee   a doctor the owner granted labs
    owner    the patient whose ids these are   stranger  a doctor of the same hospital, no grant
    other    another patient               fadmin    the admin of another organisation
    service  (a 7th letter, where given) a service's own token for that service

A letter says what the cell must answer:

    o  a success (2xx)
    a  admitted: not 401/403 (the request may still be refused for what it asks,
       e.g. a replayed commit's 409), never a 5xx
    x  refused: 401, 403 or 404, or a 200 that grants nothing (an access or
       re-encryption answer whose every segment is denied)
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from phr.api.ids import blob_key
from phr.client import OwnerKeys
from phr.identity.tokens import TokenSigner
from tests.support.grants import BUNDLE, World, grant_world
from tests.support.identity import bearer, service_url
from tests.support.records import new_patient
from tests.support.sharing import key_of
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROLES = ("anon", "owner", "other", "grantee", "stranger", "fadmin", "service")
#: one process of each service (replicas and nodes run the same code and routes)
SERVICES = {
    "kgc": "kgc",
    # before the access cells: an access attempt is logged naming its requester, whose
    # own entry the ledger then shows him
    "ledger": "ledger",
    "user-api": "user-api",
    "srs-1": "srs",
    "cloud-store": "cloud-store",
    "owner-api": "owner-api",  # last: its DELETEs remove what the others' cells read
}
P = "/v1/patients/{patient_id}"

#: (service, "METHOD /path") -> the letters of anon owner other grantee stranger fadmin
#: [service]; a comment says why where it is not obvious
MATRIX: dict[str, dict[str, str]] = {
    "kgc": {
        "GET /healthz": "oooooo",
        "GET /readyz": "oooooo",
        "GET /metrics": "oooooo",
        "GET /v1/params": "oooooo",  # the public parameters (KGC key, nodes)
        "GET /v1/whoami": "xooooo",
        "GET /v1/whoami/staff": "xxxooo",
        "POST /v1/orgs": "xxxxxx",  # the operator only
        "GET /v1/orgs": "xooooo",  # the directory of organisations, to pick one
        "GET /v1/orgs/{org_id}": "xooooo",
        "POST /v1/users": "aaaaaa",  # enrolment is open (a replayed one is refused)
        "GET /v1/users": "xooooo",  # the staff directory (asked for doctors)
        "GET /v1/users/{user_id}": "xooooo",  # public keys of a staff member
        "POST /v1/users/{user_id}/approve": "xxxxxx",  # his organisation's admin only
        "POST /v1/users/{user_id}/revoke": "xxxxxx",
        "POST /v1/auth/challenge": "oooooo",
        "POST /v1/auth/token": "xxxxxx",  # a signature decides: a replayed one is refused
        "POST /v1/trace": "xxxxxx",  # the operator, or the traced user's own admin
        "POST /v1/groups": "xooooo",  # anyone may name a group to grant to (no owner)
        "GET /v1/groups/{group_id}": "xooooo",
        "GET /v1/groups/{group_id}/member-key": "xxxoxx",  # the hospital's doctors only
    },
    "owner-api": {
        "GET /healthz": "oooooo",
        "GET /readyz": "oooooo",
        "GET /metrics": "oooooo",
        "GET /v1/whoami": "xooooo",
        "GET /v1/whoami/staff": "xxxooo",
        f"POST {P}/uploads": "xaxaax",  # the hospital is a contributor
        f"GET {P}/uploads/{{upload_id}}": "xoxxxx",
        f"DELETE {P}/uploads/{{upload_id}}": "xaxxxx",  # committed already: 409
        f"POST {P}/uploads/{{upload_id}}/commit": "xaxxxx",
        f"GET {P}/records": "xoxxxx",
        f"GET {P}/records/{{record_id}}": "xoxxxx",
        f"DELETE {P}/records/{{record_id}}": "xoxxxx",
        f"GET {P}/records/{{record_id}}/segments/{{segment}}": "xoxxxx",
        f"GET {P}/contributors": "xoxxxx",
        f"PUT {P}/contributors/{{org_id}}": "xoxxxx",
        f"DELETE {P}/contributors/{{org_id}}": "xoxxxx",
        f"POST {P}/grants": "xaxxxx",
        f"GET {P}/grants": "xoxxxx",
        f"GET {P}/grants/{{grant_id}}": "xoxxxx",
        f"DELETE {P}/grants/{{grant_id}}": "xoxxxx",
        f"POST {P}/grants/{{grant_id}}/key-grants": "xaxxxx",
        f"GET {P}/keys": "xooooo",  # signed public keys: contributors encrypt to them
        f"PUT {P}/keys": "xoxxxx",
        f"POST {P}/keys/rotate": "xoxxxx",
        f"PUT {P}/records/{{record_id}}/manifest": "xaxxxx",
        f"PUT {P}/emergency": "xoxxxx",
        f"GET {P}/emergency": "xooooo",  # which segments break-glass opens: staff ask
        f"GET {P}/delegations": "xoxxxx",
        f"PUT {P}/delegations/{{delegate_user_id}}": "xoxxxx",
        f"DELETE {P}/delegations/{{delegate_user_id}}": "xoxxxx",
        f"GET {P}/delegations/{{delegate_user_id}}/keys": "xxxxxx",  # the delegate only
    },
    "user-api": {
        "GET /healthz": "oooooo",
        "GET /readyz": "oooooo",
        "GET /metrics": "oooooo",
        "GET /v1/whoami": "xooooo",
        "GET /v1/whoami/staff": "xxxooo",
        "POST /v1/search": "xooooo",  # matches only among what the caller was granted
        "GET /v1/shared": "xooooo",  # what was shared with the caller himself
        "GET /v1/shared/{patient_id}": "xxxoxx",
        "POST /v1/access": "xxxoxx",
        "GET /v1/breakglass": "xoxxxx",  # who broke the glass on the patient: he alone
    },
    "srs-1": {
        "GET /healthz": "oooooo",
        "GET /readyz": "oooooo",
        "GET /metrics": "oooooo",
        "GET /v1/node": "oooooo",  # the node's public keys and counters
        "GET /v1/whoami": "xooooo",
        "GET /v1/whoami/staff": "xxxooo",
        "GET /v1/grants": "xoxxxx",
        "POST /v1/reencrypt": "xxxoxx",
    },
    "ledger": {
        "GET /healthz": "oooooo",
        "GET /readyz": "oooooo",
        "GET /metrics": "oooooo",
        "GET /v1/whoami": "xooooo",
        "GET /v1/whoami/staff": "xxxooo",
        # public: what a witness checks (the log does not fork), never an event body
        "GET /v1/key": "oooooo",
        "GET /v1/checkpoint": "oooooo",
        "GET /v1/blocks/{height}": "oooooo",
        "GET /v1/blocks": "oooooo",
        "GET /v1/head": "oooooo",
        "GET /v1/proofs/consistency": "oooooo",
        # bodies: the patient, the parties an event names, an auditor
        "GET /v1/events/{event_id}": "xoxoxx",  # the grant names the grantee
        "GET /v1/events": "xoxoxxo",  # a service reads what it consumes
        "GET /v1/proofs/inclusion": "xoxoxx",
        "GET /v1/audit/{subject}": "xoxxxx",
        "GET /v1/verify": "xxxxxxo",  # the whole chain: an auditor or a service only
    },
    "cloud-store": {  # services only: the 7th letter is owner-api's token for it
        "GET /healthz": "ooooooo",
        "GET /readyz": "ooooooo",
        "GET /metrics": "ooooooo",
        "GET /v1/whoami": "xoooooo",
        "GET /v1/whoami/staff": "xxxooox",
        "PUT /v1/blobs/{key}": "xxxxxxa",
        "GET /v1/blobs/{key}": "xxxxxxa",
        "DELETE /v1/blobs/{key}": "xxxxxxa",
        "PUT /v1/index/{patient_id}/{record_id}/{segment}": "xxxxxxa",
        "PUT /v1/index/{patient_id}/{record_id}": "xxxxxxa",
        "DELETE /v1/index/{patient_id}/{record_id}": "xxxxxxa",
        "POST /v1/search": "xxxxxxa",
        "POST /v1/presign": "xxxxxxa",
        "POST /v1/blobs/verify": "xxxxxxa",
    },
}

#: path values that differ from the world's defaults, per route
PATH_OVERRIDES: dict[str, dict[str, str]] = {
    # approving or revoking someone: a pending doctor of the grantee's hospital
    "POST /v1/users/{user_id}/approve": {"user_id": "pending"},
    "POST /v1/users/{user_id}/revoke": {"user_id": "pending"},
    "POST /v1/patients/{patient_id}/grants/{grant_id}/key-grants": {"grant_id": "early"},
    # the service deletes a blob no other cell reads
    "DELETE /v1/blobs/{key}": {"key": "spare_key"},
}

#: query values beyond the world's ids, per route
QUERY: dict[str, dict[str, str]] = {
    "GET /v1/users": {"role": "doctor"},  # patients look staff up, not other patients
}

#: routes whose refusal is an answer that gives nothing (what the caller may see of a
#: patient is filtered, not refused): such an empty 200 counts as refused
EMPTY: dict[str, Any] = {
    "POST /v1/access": lambda b: not b["segments"] and b["signed_manifest"] is None,
    "POST /v1/reencrypt": lambda b: not b["granted"],
    "GET /v1/events": lambda b: b == [],
    "GET /v1/shared/{patient_id}": lambda b: not b["grants"] and not b["records"],
}


def bodies(ids: dict[str, str]) -> dict[str, Any]:
    """Bodies for routes the SDK's flows did not call (the same for every role)."""
    return {
        "POST /v1/users/{user_id}/revoke": {"reason": "matrix"},
        "POST /v1/trace": {"secret_key": ids["pending_seed"]},  # the pending doctor's
        "POST /v1/search": {"trapdoors": ["0" * 64], "patient_id": ids["patient_id"]},
        "POST /v1/access": {"patient_id": ids["patient_id"], "record_id": ids["record_id"]},
        "POST /v1/reencrypt": {
            "request_id": uuid.uuid4().hex,
            "patient_id": ids["patient_id"],
            "record_id": ids["record_id"],
            "segments": ["labs"],
        },
    }


@dataclass
class Matrix:
    """The world the cells run in: ids of the owner's objects, a token per role and the
    bodies the SDK sent (by concrete URL path)."""

    ids: dict[str, str]
    tokens: dict[str, str | None]
    bodies: dict[tuple[str, str], bytes] = field(default_factory=dict)


def capture(bodies: dict[tuple[str, str], bytes]) -> Any:
    async def hook(request: httpx.Request) -> None:
        if request.method in ("POST", "PUT") and request.content:
            bodies.setdefault((request.method, request.url.path), request.content)

    return hook


async def build(
    stack: Any, http: httpx.AsyncClient, bodies: dict[tuple[str, str], bytes]
) -> Matrix:
    world: World = await grant_world(stack, http)
    sharing = world.sharing
    doctor = await world.staff("doctor")
    # no emergency grant names a pharmacist (they go to the doctors' and nurses' groups)
    stranger = await world.staff("pharmacist")
    pending = await world.kgc.enrol("doctor", org=world.org, dept="ward")
    caregiver = await world.kgc.enrol("caregiver")
    other = await new_patient(stack)
    far_org = await world.kgc.create_org(world.admin, f"Lab {uuid.uuid4().hex[:6]}", "lab")
    fadmin = await world.staff("admin", org=far_org)

    upload_id = uuid.uuid4().hex
    async with world.patient.records(http=http) as records:
        info = await records.upload_record(
            BUNDLE,
            patient_id=world.pid,
            keys=OwnerKeys(world.patient.master, {}),
            author=world.patient.user.keys.signing,
            upload_id=upload_id,
            validate=False,
        )
    # a rotation with a grant standing sends the keys, key-grants and a re-wrapped
    # manifest; it is of demographics, so the cells' labs grant is left as it is
    early_doc = await world.staff("doctor")
    early = await sharing.grant_user(world.pid, early_doc.user_id, ["demographics"])
    await sharing.rotate(world.pid, ["demographics"], rewrap=True)
    grant = await sharing.grant_user(world.pid, doctor.user_id, ["labs"])
    await sharing.set_emergency_segments(world.pid, ["labs"])
    await sharing.delegate(world.pid, caregiver.user_id, ["labs"])
    group = await sharing.create_group({"role": "doctor", "org": world.org})
    owner_token = world.patient.token
    r = await http.put(
        f"{world.owner_url}/v1/patients/{world.pid}/contributors/{world.org}",
        headers=bearer(owner_token),
    )
    assert r.status_code in (200, 201), r.text
    ledger = service_url(stack, "ledger")

    async def granted_event() -> str | None:
        r = await http.get(
            f"{ledger}/v1/events",
            params={"subject": world.pid, "type": "acl.granted"},
            headers=bearer(owner_token),
        )
        found = [
            e["id"]
            for e in (r.json() if r.status_code == 200 else [])
            if e["data"].get("grantee_user_id") == doctor.user_id
        ]
        return found[0] if found else None

    event_id = await eventually(granted_event, timeout=60, interval=0.5)
    grantee_token = await world.kgc.login(doctor)
    access = {"patient_id": world.pid, "record_id": info.record_id}

    async def grantee_served() -> bool:  # the rotated keys reached every node
        r = await http.post(
            f"{service_url(stack, 'user-api')}/v1/access",
            json=access,
            headers=bearer(grantee_token),
        )
        return r.status_code == 200 and "labs" in r.json()["segments"]

    await eventually(grantee_served, timeout=60, interval=0.5)
    spare = "demographics"  # v1: its blob is another cell's to delete
    tokens: dict[str, str | None] = {
        "anon": None,
        "owner": owner_token,
        "other": other.token,
        "grantee": grantee_token,
        "stranger": await world.kgc.login(stranger),
        "fadmin": await world.kgc.login(fadmin),
    }
    ids = {
        "patient_id": world.pid,
        "subject": world.pid,
        "record_id": info.record_id,
        "upload_id": upload_id,
        "segment": "labs",
        "grant_id": grant.grant_id,
        "early": early.grant_id,
        "org_id": world.org,
        "delegate_user_id": caregiver.user_id,
        "user_id": doctor.user_id,
        "pending": pending.user_id,
        "pending_seed": pending.keys.signing.seed_b64(),
        "group_id": str(group["group_id"]),
        "event_id": str(event_id),
        "height": "0",
        "key": blob_key(world.pid, info.record_id, "labs", 1),
        "spare_key": blob_key(world.pid, info.record_id, spare, 1),
        "first": "1",
        "second": "2",
    }
    return Matrix(ids, tokens, bodies)


@pytest.fixture(scope="module")
async def matrix(stack: Any) -> AsyncIterator[Matrix]:
    bodies: dict[tuple[str, str], bytes] = {}
    async with httpx.AsyncClient(timeout=60, event_hooks={"request": [capture(bodies)]}) as http:
        yield await build(stack, http, bodies)


def served_routes(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }


#: DELETEs and the rotation change the world: their cells run after all the others
LAST = re.compile(r"^DELETE |/keys/rotate$")


def request_for(
    route: str, op: dict[str, Any], m: Matrix
) -> tuple[str, str, dict[str, str], bytes | None]:
    method, template = route.split(" ", 1)
    values = dict(m.ids)
    for name, ref in PATH_OVERRIDES.get(route, {}).items():
        values[name] = m.ids[ref]
    path = re.sub(r"{(\w+)}", lambda g: values[g.group(1)], template)
    params = {
        p["name"]: values[p["name"]]
        for p in op.get("parameters", [])
        if p["in"] == "query" and p["name"] in values
    } | QUERY.get(route, {})
    body = None
    if "requestBody" in op:
        body = m.bodies.get((method, path))
        if body is None:
            body = json.dumps(bodies(m.ids).get(route, {})).encode()
    return method, path, params, body


def outcome(route: str, response: httpx.Response) -> str:
    """The letter a response is: o, x, or a (admitted but refused for what it asked)."""
    status = response.status_code
    if status in (401, 403, 404, 429):
        return "x"
    if 200 <= status < 300:
        empty = EMPTY.get(route)
        return "x" if empty is not None and empty(response.json()) else "o"
    return "a" if status < 500 else "5"


def matches(expected: str, got: str) -> bool:
    return got == expected or (expected == "a" and got == "o")


@pytest.mark.parametrize("name", list(SERVICES))
async def test_every_route_answers_every_role_as_the_matrix_says(
    stack: Any, matrix: Matrix, name: str
) -> None:
    url = service_url(stack, name)
    signer = TokenSigner(key_of(stack, "owner-api"), "owner-api")
    tokens = dict(matrix.tokens, service=signer.mint_service(SERVICES[name], ttl_s=600))
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        routes = served_routes((await http.get("/openapi.json")).json())
        table = MATRIX[name]
        missing = sorted(set(routes) - set(table))
        stale = sorted(set(table) - set(routes))
        assert not missing, f"{name}: routes without a row in MATRIX: {missing}"
        assert not stale, f"{name}: rows for routes it does not serve: {stale}"
        wrong = []
        for route in sorted(routes, key=lambda r: bool(LAST.search(r))):
            method, path, params, body = request_for(route, routes[route], matrix)
            letters = table[route]
            # the refused first, the admitted after (a success may change the world)
            order = sorted(range(len(letters)), key=lambda i: letters[i] != "x")
            for i in order:
                role, token = ROLES[i], tokens[ROLES[i]]
                headers = bearer(token) if token else {}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                r = await http.request(method, path, params=params, content=body, headers=headers)
                got = outcome(route, r)
                if not matches(letters[i], got):
                    wrong.append(
                        f"{route} as {role}: expected {letters[i]}, got {r.status_code} "
                        f"{r.text[:160]}"
                    )
    assert not wrong, f"{name}: {len(wrong)} cells differ:\n" + "\n".join(wrong)

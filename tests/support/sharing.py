"""Helpers for the sharing tests: grants, readers, SRS nodes stopped and impersonated.

Grants are made the way a patient's client makes them (``phr.client.make_grant``:
t-of-N kfrags sealed to each node, a patient-signed grant document per segment) and
announced as ``acl.granted`` signed with owner-api's key, as owner-api announces them.
:func:`grant` is the one place to swap for owner-api's grant routes once they exist::

    world = await sharing_world(stack)                 # org, patient, doctor, insurer …
    g = await grant(stack, world.patient, world.doctor, ["labs", "conditions"])
    async with reader(stack, world.doctor) as doctor:  # phr.sdk.access.AccessClient
        bundle = await doctor.fetch_record(world.patient.id, record_id)
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from phr.client.grant import SrsNode, make_grant
from phr.crypto.pre import (
    KeyCapsule,
    PrePublicKey,
    PreSecretKey,
    encapsulate,
    generate_kfrags,
    reencrypt,
)
from phr.crypto.seal import NodePublicKey
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import SigningKey, VerifyKey, b64u_encode
from phr.events.acl import AclGranted, AclRevoked, SegmentKeyGrant
from phr.events.base import EventData
from phr.events.catalog import spec_for
from phr.sdk.access import AccessClient
from phr.service.kafka import kafka_producer
from phr.service.registry import Registry
from phr.service.settings import KafkaSettings
from tests.support.identity import ALL_SERVICES, TestUser, stack_scenario
from tests.support.records import Patient, new_patient
from tests.support.stack import stack_module
from tests.support.waiting import eventually, wait_sync

THRESHOLD = 2


def registry(stack: Any) -> Registry:
    return Registry.load(stack.base / "registry.json")


def key_of(stack: Any, name: str) -> SigningKey:
    return SigningKey.from_seed(bytes.fromhex(stack.signing_key_file(name).read_text().strip()))


def srs_nodes(stack: Any) -> list[SrsNode]:
    return [
        SrsNode(n, NodePublicKey.from_b64(e.x25519_public or ""))
        for n, e in registry(stack).srs_nodes().items()
    ]


def node_keys(stack: Any) -> dict[str, VerifyKey]:
    return {n: VerifyKey.from_b64(e.ed25519_public) for n, e in registry(stack).srs_nodes().items()}


# -------------------------------------------------------------------- people


@dataclass
class Staff:
    user: TestUser
    token: str

    @property
    def id(self) -> str:
        return self.user.user_id


@dataclass
class World:
    """A patient, a hospital with two doctors, an insurer, tokens for all."""

    patient: Patient
    doctor: Staff
    other_doctor: Staff
    insurer: Staff
    hospital: str
    insurer_org: str


async def sharing_world(stack: Any) -> World:
    async with httpx.AsyncClient(timeout=15) as http, stack_scenario(stack, http) as sc:
        hospital = await sc.create_org(f"Hospital {uuid.uuid4().hex[:6]}", "hospital")
        insurer_org = await sc.create_org(f"Insurer {uuid.uuid4().hex[:6]}", "insurer")
        people: list[Staff] = []
        for role, org, dept in (
            ("doctor", hospital, "cardiology"),
            ("doctor", hospital, "radiology"),
            ("insurer", insurer_org, None),
        ):
            user = TestUser.of(await sc.staff(role, org, dept))
            people.append(Staff(user, await sc.login(user, ALL_SERVICES)))
    patient = await new_patient(stack)
    doctor, other_doctor, insurer = people
    return World(patient, doctor, other_doctor, insurer, hospital, insurer_org)


@asynccontextmanager
async def reader(
    stack: Any, staff: Staff, *, token: str | None = None, **kw: Any
) -> AsyncIterator[AccessClient]:
    """An AccessClient for ``staff`` (his keys and token; node keys from the KGC's
    parameters; group keys only if given)."""
    async with stack_scenario(stack) as sc:
        client = await sc.reader(staff.user, token or staff.token, groups=False, **kw)
    async with client:
        yield client


# -------------------------------------------------------------------- grants


async def publish(stack: Any, type: str, data: EventData, subject: str) -> None:
    """Publish an event signed by owner-api's key, as owner-api would."""
    event = spec_for(type).make(
        data, key=key_of(stack, "owner-api"), source="owner-api", subject=subject
    )
    async with kafka_producer(KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)) as pub:
        await pub.publish(event)


async def grant(
    stack: Any,
    patient: Patient,
    grantee: Staff | None,
    segments: Sequence[str],
    *,
    group: dict[str, str] | None = None,
    receiving_pk: PrePublicKey | None = None,
    emergency: bool = False,
    expires_at: datetime | None = None,
    data_from: datetime | None = None,
) -> AclGranted:
    """The patient grants ``segments`` (key version 1) to one user or to a group."""
    grant_id = f"g-{uuid.uuid4().hex[:12]}"
    receiving = receiving_pk or (grantee.user.keys.pre.public_key() if grantee else None)
    assert receiving is not None, "a group grant needs the group's receiving key"
    key_grants = []
    for segment in segments:
        g = make_grant(
            patient.master,
            patient.user.keys.signing,
            patient_id=patient.id,
            grantee_id=grantee.id if grantee else "group",
            grantee_pk=receiving,
            segment=segment,
            key_version=1,
            nodes=srs_nodes(stack),
            threshold=THRESHOLD,
            grant_id=f"{grant_id}/{segment}/v1",
            expires_at=expires_at.isoformat() if expires_at else None,
        )
        key_grants.append(
            SegmentKeyGrant(
                segment=segment,
                key_version=1,
                signed_grant=g.signed.model_dump(mode="json"),
                sealed_kfrags={n: b64u_encode(s) for n, s in g.sealed_kfrags.items()},
            )
        )
    data = AclGranted(
        grant_id=grant_id,
        patient_id=patient.id,
        grantee_user_id=grantee.id if grantee and not group else None,
        grantee_group=group,
        segments=list(segments),
        expires_at=expires_at,
        data_from=data_from,
        emergency=emergency,
        purpose="emergency" if emergency else "treatment",
        threshold=THRESHOLD,
        key_grants=key_grants,
        granted_by=patient.id,
    )
    await publish(stack, "acl.granted", data, patient.id)
    return data


async def revoke(stack: Any, patient: Patient, grant_id: str) -> None:
    data = AclRevoked(grant_id=grant_id, patient_id=patient.id, revoked_by=patient.id)
    await publish(stack, "acl.revoked", data, patient.id)


# -------------------------------------------------------------------- nodes


def service_spec(name: str) -> Any:
    return next(s for s in stack_module().SERVICES if s.name == name)


def restart(stack: Any, name: str) -> None:
    """Start a stopped service again and wait until it is ready."""
    spec = service_spec(name)
    stack.start_service(spec)
    # generous: on a loaded, shared machine a service has taken over a minute to start
    wait_sync(lambda: stack.ready(spec)[0], timeout=120, interval=0.2)


async def kill(stack: Any, name: str) -> None:
    """SIGKILL a service and wait until it is gone (a restart before that is a no-op)."""
    pid = stack.pid(name)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    async def gone() -> bool:
        return stack.pid(name) is None

    await eventually(gone, timeout=10)


def port_of(stack: Any, name: str) -> int:
    return int(stack.p.ports[service_spec(name).port_key])


#: foreign: cfrags from someone else's kfrag; garbage: random bytes; slow: answers only
#: after ``SLOW_S`` seconds (past user-api's per-node timeout)
ForgeMode = Literal["foreign", "garbage", "slow"]
SLOW_S = 3.0


def foreign_cfrag(receiving_pk: PrePublicKey) -> bytes:
    """A well-formed cfrag for the right receiver, from a kfrag of someone else's key and
    another capsule: it must not verify against the real grant."""
    delegating = PreSecretKey.generate()
    signer = PreSecretKey.generate()
    capsule: KeyCapsule = encapsulate(delegating.public_key(), SegmentSecret.generate())
    kfrag = generate_kfrags(delegating, receiving_pk, signer, threshold=1, shares=1)[0]
    return reencrypt(
        capsule,
        kfrag,
        verifying_pk=signer.public_key(),
        delegating_pk=delegating.public_key(),
        receiving_pk=receiving_pk,
    )


def lying_node_app(stack: Any, impersonate: str, honest: str, mode: ForgeMode) -> FastAPI:
    """An SRS node that signs with ``impersonate``'s real key but returns forged cfrags
    (or answers too late).

    It asks the honest node (with the caller's own token) for a genuine answer, swaps
    every cfrag for a forged one, names itself ``impersonate`` and signs the result:
    only cfrag verification can catch it.
    """
    from phr.api.srs import ReencryptResponse
    from srs.reencrypt import sign_response

    key = key_of(stack, impersonate)
    honest_url = registry(stack).url(honest)
    app = FastAPI()

    @app.post("/v1/reencrypt")
    async def reencrypt_route(request: Request) -> JSONResponse:
        body = await request.json()
        if mode == "slow":
            await asyncio.sleep(SLOW_S)
        async with httpx.AsyncClient(timeout=5) as http:
            resp = await http.post(
                f"{honest_url}/v1/reencrypt",
                json=body,
                headers={"Authorization": request.headers.get("authorization", "")},
            )
        answer = ReencryptResponse.model_validate(resp.json())
        granted = []
        for item in answer.granted:
            receiving = PrePublicKey.from_b64(item.signed_grant["grant"]["receiving_pk"])
            forged = foreign_cfrag(receiving) if mode == "foreign" else os.urandom(len(item.cfrag))
            granted.append(
                item.model_copy(update={"cfrag": b64u_encode(forged), "node_id": impersonate})
            )
        denied = [d.model_copy(update={"node_id": impersonate}) for d in answer.denied]
        lie = answer.model_copy(
            update={"node_id": impersonate, "granted": granted, "denied": denied}
        )
        return JSONResponse(sign_response(lie, key).model_dump(mode="json"))

    return app


@asynccontextmanager
async def lying_node(
    stack: Any, impersonate: str = "srs-3", honest: str = "srs-1", mode: ForgeMode = "foreign"
) -> AsyncIterator[None]:
    """Stop ``impersonate`` and serve a lying node on its port; restart the real one after."""
    stack.stop(impersonate)
    config = uvicorn.Config(
        lying_node_app(stack, impersonate, honest, mode),
        host="127.0.0.1",
        port=port_of(stack, impersonate),
        log_level="warning",
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        await task
        restart(stack, impersonate)

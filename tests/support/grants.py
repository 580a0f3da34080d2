"""Helpers for the grant tests: a patient with his SharingClient, staff, records, and
direct calls to the SRS nodes (re-encryption, grant listings).

    world = await grant_world(stack)                 # patient, org, admin token, kgc
    doctor = await world.staff("doctor")
    g = await world.sharing.grant_user(world.pid, doctor.user_id, ["labs"])
    rec = await world.upload()                        # a record with a labs segment
    cfrags, doc = await world.cfrags(doctor, rec, "labs")
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from typing import Any

import httpx

from phr.client import owner_secret
from phr.client.access import grantee_secret
from phr.crypto.grants import GrantDocument
from phr.crypto.keys import UserKeys
from phr.crypto.manifest import SegmentEntry, SignedRecordManifest
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import b64u_decode
from phr.scenario import Scenario
from phr.sdk.sharing import SharingClient
from phr.service.registry import Registry
from tests.support.identity import (
    KgcClient,
    TestUser,
    bearer,
    load_operator,
    service_url,
    stack_scenario,
)
from tests.support.records import Patient, new_patient

NODES = ("srs-1", "srs-2", "srs-3")
BUNDLE: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "name": [{"text": "Ann"}]}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o1",
                "status": "final",
                "code": {"text": "glucose"},
            }
        },
    ],
}


@dataclass
class World:
    stack: Any
    http: httpx.AsyncClient
    kgc: KgcClient
    admin: str
    org: str
    patient: Patient
    registry: Registry

    @property
    def pid(self) -> str:
        return self.patient.id

    @property
    def owner_url(self) -> str:
        return service_url(self.stack, "owner-api")

    @property
    def kgc_url(self) -> str:
        return service_url(self.stack, "kgc")

    @property
    def scenario(self) -> Scenario:
        return stack_scenario(self.stack, self.http)

    def client(self, user: TestUser, token: str, *, master: bool = False) -> SharingClient:
        holder = replace(user, master=self.patient.master if master else None)
        return self.scenario.sharing(holder, token)

    @property
    def sharing(self) -> SharingClient:
        return self.client(self.patient.user, self.patient.token, master=True)

    async def staff(self, role: str, org: str | None = None) -> TestUser:
        return await self.kgc.staff(self.admin, role, org or self.org, "ward")

    async def upload(self, versions: dict[str, int] | None = None) -> str:
        patient = self.patient
        info = await self.scenario.upload(
            patient.person, BUNDLE, token=patient.token, versions=versions
        )
        return info.record_id

    async def manifest(self, record_id: str) -> SignedRecordManifest:
        async with self.patient.records() as records:
            detail = await records.get_record(self.pid, record_id)
        return SignedRecordManifest.model_validate(detail.signed_manifest)

    async def entry(self, record_id: str, segment: str) -> SegmentEntry:
        return (await self.manifest(record_id)).manifest.segment(segment)

    async def reencrypt(
        self, node: str, token: str, record_id: str, *segments: str, reason: str | None = None
    ) -> dict[str, Any]:
        r = await self.http.post(
            f"{self.registry.url(node)}/v1/reencrypt",
            json={
                "request_id": uuid.uuid4().hex,
                "patient_id": self.pid,
                "record_id": record_id,
                "segments": list(segments),
                "breakglass_reason": reason,
            },
            headers=bearer(token),
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def cfrags(
        self, token: str, record_id: str, segment: str
    ) -> tuple[list[bytes], GrantDocument]:
        """Every node's cfrag for ``segment`` (asserts all three serve it)."""
        bodies = await asyncio.gather(
            *(self.reencrypt(n, token, record_id, segment) for n in NODES)
        )
        assert all(b["granted"] for b in bodies), [b["denied"] for b in bodies]
        doc = GrantDocument.model_validate(bodies[0]["granted"][0]["signed_grant"]["grant"])
        return [b64u_decode(b["granted"][0]["cfrag"]) for b in bodies], doc

    async def denials(self, token: str, record_id: str, segment: str) -> list[str]:
        bodies = await asyncio.gather(
            *(self.reencrypt(n, token, record_id, segment) for n in NODES)
        )
        return [b["denied"][0]["reason"] if b["denied"] else "granted" for b in bodies]

    async def node_grants(self, node: str) -> list[dict[str, Any]]:
        r = await self.http.get(
            f"{self.registry.url(node)}/v1/grants",
            params={"patient_id": self.pid},
            headers=bearer(self.patient.token),
        )
        assert r.status_code == 200, r.text
        grants: list[dict[str, Any]] = r.json()["grants"]
        return grants

    async def own_secret(self, record_id: str, segment: str) -> SegmentSecret:
        return owner_secret(self.patient.master, await self.entry(record_id, segment))


def open_with(
    keys: UserKeys, entry: SegmentEntry, doc: GrantDocument, cfrags: list[bytes]
) -> SegmentSecret:
    return grantee_secret(keys, entry, doc, cfrags[: doc.threshold])


async def grant_world(stack: Any, http: httpx.AsyncClient) -> World:
    kgc = KgcClient(http, service_url(stack, "kgc"))
    admin = await kgc.login(load_operator(stack))
    org = await stack_scenario(stack, http).create_org(
        f"Hospital {uuid.uuid4().hex[:6]}", "hospital"
    )
    patient = await new_patient(stack)
    registry = Registry.load(stack.base / "registry.json")
    return World(stack, http, kgc, admin, org, patient, registry)

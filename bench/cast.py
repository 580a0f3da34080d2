"""The benches' stack and people: deploy.local's stack, phr.scenario's builders.

stack = local_stack("test")                  # PHR_PORT_OFFSET aware
async with scenario_of(stack) as sc:
    cast = await hospital_cast(sc)           # a patient, two doctors (approved)
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import deploy.local
from phr.client import EncryptedRecord, encrypt_record
from phr.crypto.signing import SigningKey
from phr.scenario import Endpoints, Person, Scenario
from phr.sdk.access import AccessClient, AccessDenied
from phr.sdk.records import new_record_id


def local_stack(name: str | None = None) -> deploy.local.Stack:
    """A deploy.local profile's stack (default: PHR_TEST_PROFILE, else ``test``)."""
    return deploy.local.Stack(
        deploy.local.profile(name or os.environ.get("PHR_TEST_PROFILE", "test"))
    )


def service_url(stack: deploy.local.Stack, name: str) -> str:
    return stack.service_url(stack.spec(name))


def service_key(stack: deploy.local.Stack, name: str) -> SigningKey:
    """A service's signing key (the stack wrote it; the registry lists its public half)."""
    return SigningKey.from_seed(bytes.fromhex(stack.signing_key_file(name).read_text().strip()))


def scenario_of(stack: deploy.local.Stack) -> Scenario:
    """phr.scenario on ``stack``, as the operator the KGC created at its first start."""
    urls = Endpoints(
        kgc=service_url(stack, "kgc"),
        owner_api=service_url(stack, "owner-api"),
        user_api=service_url(stack, "user-api"),
    )
    return Scenario.from_operator_file(urls, stack.operator_file)


@dataclass
class Cast:
    """A patient (keys published) and two approved doctors of one hospital."""

    patient: Person
    doctor: Person
    other_doctor: Person
    hospital: str


async def hospital_cast(sc: Scenario) -> Cast:
    hospital = await sc.create_org(f"Bench hospital {uuid.uuid4().hex[:6]}", "hospital")
    doctor = await sc.staff("doctor", hospital, "cardiology")
    other = await sc.staff("doctor", hospital, "radiology")
    return Cast(await sc.patient(), doctor, other, hospital)


def record_of(patient: Person, bundle: dict[str, Any]) -> EncryptedRecord:
    """``bundle`` encrypted under ``patient``'s keys (no FHIR validation), a new id."""
    return encrypt_record(
        bundle,
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=patient.owner_keys(),
        author=patient.keys.signing,
        validate=False,
    )


async def until_readable(
    reader: AccessClient, patient_id: str, record_id: str, segments: Sequence[str]
) -> None:
    """Wait (60 s at most) until every SRS node knows the grant and the record: each
    of ``segments`` opens, every node answering."""
    deadline = time.monotonic() + 60
    while True:
        try:
            access = await reader.request_access(patient_id, record_id, list(segments))
            done = len(access.answered_nodes) == len(reader.node_keys)
            if done and len(access.opened) == len(segments):
                return
            why: Any = access.denied
        except AccessDenied as exc:
            why = exc.denied
        if time.monotonic() > deadline:
            raise SystemExit(f"record {record_id} not readable: {why}")
        await asyncio.sleep(0.2)

"""Keyword search by a data user: trapdoors under granted search keys, scoped by user-api.

The doctor's SDK learns search keys only by opening capsules of segments granted to
him; user-api asks cloud-store only about patients who granted him something and
returns only matches in granted segments; cloud-store keeps HMAC tags, never words.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.client import OwnerKeys, encrypt_record
from phr.crypto.search import trapdoor
from phr.fhir.keywords import payload_keywords
from phr.fhir.split import split_bundle
from phr.sdk.access import Match
from phr.sdk.records import new_record_id
from tests.support.identity import bearer, service_url
from tests.support.records import Patient, marked_bundle, mongo, mongo_contains, new_patient
from tests.support.sharing import World, grant, reader, revoke, sharing_world
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@dataclass
class Searchable:
    world: World
    stranger: Patient  # same kind of record, granted nothing to anyone
    marker: str
    record_id: str
    stranger_record_id: str
    keywords: dict[str, set[str]]


async def upload(patient: Patient, bundle: dict[str, Any]) -> str:
    record = encrypt_record(
        bundle,
        patient_id=patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(patient.master),
        author=patient.user.keys.signing,
    )
    async with patient.records() as records:
        await records.upload_encrypted_record(record)
    return record.manifest.record_id


@pytest.fixture(scope="module")
async def searchable(stack: Any) -> AsyncIterator[Searchable]:
    world = await sharing_world(stack)
    stranger = await new_patient(stack)
    marker = f"zq{uuid4().hex[:12]}"  # one word, in the conditions (and labs) segments
    bundle = marked_bundle(marker)
    record_id = await upload(world.patient, bundle)
    stranger_record_id = await upload(stranger, bundle)
    keywords = {
        s.value: payload_keywords(p) for s, p in split_bundle(bundle, validate=False).items()
    }
    await grant(stack, world.patient, world.doctor, ["labs", "conditions"])
    await grant(stack, world.patient, world.insurer, ["insurance"])
    s = Searchable(world, stranger, marker, record_id, stranger_record_id, keywords)

    async def indexed() -> bool:
        async with reader(stack, world.doctor) as doctor:
            shared = await doctor.shared()
            if not shared or not shared[0]["records"]:
                return False
            access = await doctor.request_access(world.patient.id, record_id, ["labs"])
            return "labs" in access.opened

    await eventually(indexed, timeout=30, interval=0.3)
    yield s


GRANTED_ANYWHERE = ("labs", "conditions", "insurance")


def only_in(s: Searchable, segment: str, prefix: str = "") -> str:
    """A keyword of ``segment`` found in no other granted segment (a plain word, or a
    code with ``prefix``)."""
    others = set().union(*(s.keywords[n] for n in GRANTED_ANYWHERE if n != segment))
    candidates = sorted(
        k
        for k in s.keywords[segment] - others
        if (k.startswith(prefix) if prefix else " " not in k and ":" not in k and "|" not in k)
    )
    return candidates[0]


async def test_search_by_loinc_code_and_by_word(stack: Any, searchable: Searchable) -> None:
    s, pid = searchable, searchable.world.patient.id
    code = only_in(s, "labs", "loinc:")
    word = only_in(s, "conditions")
    async with reader(stack, s.world.doctor) as doctor:
        keys = await doctor.search_keys()
        assert {k.patient_id for k in keys} == {pid}
        assert set().union(*(k.segments for k in keys)) == {"labs", "conditions"}
        assert await doctor.search([code], search_keys=keys) == [Match(pid, s.record_id, "labs")]
        assert await doctor.search([word]) == [Match(pid, s.record_id, "conditions")]
        # the marker is in both granted segments; the stranger's copy is not found
        assert await doctor.search([s.marker], patient_id=pid) == [
            Match(pid, s.record_id, "conditions"),
            Match(pid, s.record_id, "labs"),
        ]
        # words of a segment not granted find nothing
        assert await doctor.search([only_in(s, "insurance")]) == []
    async with reader(stack, s.world.insurer) as insurer:
        assert await insurer.search([only_in(s, "insurance")]) == [
            Match(pid, s.record_id, "insurance")
        ]
        assert await insurer.search([code]) == []
    async with reader(stack, s.world.other_doctor) as nobody:
        assert await nobody.search_keys() == []
        assert await nobody.search([s.marker]) == []


async def test_user_api_returns_nothing_outside_the_grants(
    stack: Any, searchable: Searchable
) -> None:
    """Even with the right trapdoors (here: made from the patients' own keys), a
    doctor learns nothing of segments or patients that granted him nothing."""
    s = searchable
    url = f"{service_url(stack, 'user-api')}/v1/search"
    own = s.world.patient.master
    stranger = s.stranger.master

    async def ask(trapdoors: list[str], patient_id: str | None = None) -> list[Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.post(
                url,
                json={"trapdoors": trapdoors, "patient_id": patient_id},
                headers=bearer(s.world.doctor.token),
            )
        assert r.status_code == 200, r.text
        matches: list[Any] = r.json()["matches"]
        return matches

    ins = only_in(s, "insurance")
    granted = trapdoor(own.search_key("conditions", 1), s.marker)
    assert await ask([granted]) == [
        {"patient_id": s.world.patient.id, "record_id": s.record_id, "segment": "conditions"}
    ]
    # cloud-store holds these tags, but they are in a segment or a patient not granted
    assert await ask([trapdoor(own.search_key("insurance", 1), ins)]) == []
    assert await ask([trapdoor(stranger.search_key("conditions", 1), s.marker)]) == []
    assert (
        await ask([trapdoor(stranger.search_key("conditions", 1), s.marker)], s.stranger.id) == []
    )


async def test_cloud_store_index_holds_no_plaintext_keyword(
    stack: Any, searchable: Searchable
) -> None:
    s = searchable
    code = only_in(s, "labs", "loinc:")
    async with mongo(stack) as client:
        tags = client["phr_cloud_store"]["tags"]
        doc = await tags.find_one({"patient_id": s.world.patient.id, "segment": "labs"})
        assert doc is not None and len(doc["tags"]) == len(s.keywords["labs"])
        assert all(len(t) == 64 for t in doc["tags"])
    for needle in (s.marker, code, code.split(":")[1]):
        assert await mongo_contains(stack, needle.encode()) == [], needle


async def test_a_revoked_grant_no_longer_scopes_search(stack: Any) -> None:
    world = await sharing_world(stack)
    marker = f"zr{uuid4().hex[:12]}"
    record_id = await upload(world.patient, marked_bundle(marker))
    g = await grant(stack, world.patient, world.doctor, ["conditions"])
    pid = world.patient.id
    async with reader(stack, world.doctor) as doctor:

        async def found() -> list[Match]:
            return await doctor.search([marker])

        assert await eventually(found, timeout=30, interval=0.3) == [
            Match(pid, record_id, "conditions")
        ]
        keys = await doctor.search_keys()
        await revoke(stack, world.patient, g.grant_id)

        async def gone() -> bool:
            return await doctor.search([marker], search_keys=keys) == []

        assert await eventually(gone, timeout=15, interval=0.2)

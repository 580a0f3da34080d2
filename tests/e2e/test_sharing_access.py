"""A data user reads granted segments through user-api and three real SRS nodes.

The record goes up through owner-api with the records SDK; grants are announced as
owner-api announces them (tests/support/sharing.py); the doctor and the insurer read
through ``phr.sdk.access.AccessClient``, which verifies node signatures, cfrags and
ciphertext and decrypts on the client.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from phr.client import OwnerKeys, encrypt_record, open_granted
from phr.client.record import EncryptedRecord
from phr.crypto.errors import CryptoError, FormatError
from phr.crypto.grants import verify_grant
from phr.crypto.signing import b64u_decode
from phr.fhir.segments import segment_for
from phr.sdk.access import AccessDenied, AccessError, AccessIntegrityError
from phr.sdk.records import new_record_id
from phr.sdk.transport import AiohttpTransport
from tests.support.identity import bearer, service_url
from tests.support.records import marked_bundle
from tests.support.sharing import (
    SLOW_S,
    World,
    grant,
    lying_node,
    reader,
    restart,
    sharing_world,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


@dataclass
class Shared:
    world: World
    record: EncryptedRecord
    bundle: dict[str, Any]

    @property
    def record_id(self) -> str:
        return self.record.manifest.record_id

    @property
    def patient_id(self) -> str:
        return self.world.patient.id


def resources_of(bundle: dict[str, Any], segments: set[str]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if segment_for(e["resource"]["resourceType"]).value in segments
    ]


def segments_in(bundle: dict[str, Any]) -> set[str]:
    return {segment_for(e["resource"]["resourceType"]).value for e in bundle["entry"]}


@pytest.fixture(scope="module")
async def shared(stack: Any) -> AsyncIterator[Shared]:
    world = await sharing_world(stack)
    bundle = marked_bundle(f"MARK{uuid4().hex[:12]}")
    record = encrypt_record(
        bundle,
        patient_id=world.patient.id,
        record_id=new_record_id(),
        keys=OwnerKeys(world.patient.master),
        author=world.patient.user.keys.signing,
    )
    async with world.patient.records() as records:
        await records.upload_encrypted_record(record)
    await grant(stack, world.patient, world.doctor, ["labs", "conditions"])
    await grant(stack, world.patient, world.insurer, ["insurance"])
    s = Shared(world, record, bundle)

    async def readable() -> bool:
        async with reader(stack, world.doctor) as doctor:
            try:
                access = await doctor.request_access(s.patient_id, s.record_id, ["labs"])
            except AccessDenied:  # a node has not consumed the grant yet: ask again
                return False
            return len(access.answered_nodes) == 3 and "labs" in access.opened

    # every node has the record and the grant (they consume events independently)
    await eventually(readable, timeout=30, interval=0.3)
    yield s


async def test_doctor_reads_labs_and_conditions_but_not_insurance(
    stack: Any, shared: Shared
) -> None:
    told: list[int] = []
    got_bytes: list[int] = []

    def on_download(total: int) -> Any:
        told.append(total)
        return got_bytes.append

    async with reader(stack, shared.world.doctor) as doctor:
        opened = await doctor.open_record(
            shared.patient_id, shared.record_id, validate=False, on_download=on_download
        )
        assert segments_in(opened.bundle) == {"labs", "conditions"}
        # the progress bar is told the granted ciphertext's size, then every byte of it
        sizes = {e.name: e.size for e in opened.access.manifest.segments}
        assert told == [sizes["labs"] + sizes["conditions"]]
        assert sum(got_bytes) == told[0] and len(got_bytes) >= 2
        got = [e["resource"] for e in opened.bundle["entry"]]
        assert got == resources_of(shared.bundle, {"labs", "conditions"})
        # by default only the segments the doctor holds grants for are asked: no denial
        assert opened.access.denied == {}
        assert opened.access.suspicious_nodes == {}
        with pytest.raises(AccessDenied) as denied:
            await doctor.fetch_record(shared.patient_id, shared.record_id, ["insurance"])
        assert "insurance" in denied.value.denied


class _FlipSegmentBytes(httpx.AsyncBaseTransport):
    """A man in the middle: flips one byte of every segment download (from S3) it relays."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.flipped = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if b"X-Amz-Signature" not in request.url.query or resp.status_code != 200:
            return resp
        body = bytearray(await resp.aread())
        body[len(body) // 2] ^= 0x01
        self.flipped += 1
        return httpx.Response(200, headers=resp.headers, content=bytes(body), request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_ciphertext_altered_on_the_way_is_refused(stack: Any, shared: Shared) -> None:
    """user-api (or the network) changing the ciphertext: the reader's SHA-256 check
    against the signed manifest refuses the record; no partial Bundle comes back."""
    mitm = _FlipSegmentBytes(AiohttpTransport())
    async with (
        httpx.AsyncClient(transport=mitm, timeout=30) as http,
        reader(stack, shared.world.doctor, http=http) as doctor,
    ):
        with pytest.raises(AccessIntegrityError, match="SHA-256|authentic|does not match"):
            await doctor.fetch_record(
                shared.patient_id, shared.record_id, ["labs", "conditions"], validate=False
            )
        assert mitm.flipped >= 1


async def test_insurer_reads_insurance_only(stack: Any, shared: Shared) -> None:
    async with reader(stack, shared.world.insurer) as insurer:
        bundle = await insurer.fetch_record(shared.patient_id, shared.record_id, validate=False)
        assert segments_in(bundle) == {"insurance"}
        assert [e["resource"] for e in bundle["entry"]] == resources_of(
            shared.bundle, {"insurance"}
        )
        with pytest.raises(AccessDenied):
            await insurer.fetch_record(shared.patient_id, shared.record_id, ["labs"])


async def test_one_node_down_still_serves(stack: Any, shared: Shared) -> None:
    stack.stop("srs-3")
    try:
        async with reader(stack, shared.world.doctor) as doctor:
            opened = await doctor.open_record(
                shared.patient_id, shared.record_id, ["labs"], validate=False
            )
        assert opened.access.answered_nodes == ["srs-1", "srs-2"]
        assert segments_in(opened.bundle) == {"labs"}
    finally:
        restart(stack, "srs-3")


async def test_two_nodes_down_is_a_clear_503(stack: Any, shared: Shared) -> None:
    stack.stop("srs-2")
    stack.stop("srs-3")
    try:
        async with reader(stack, shared.world.doctor) as doctor:
            with pytest.raises(AccessError) as err:
                await doctor.fetch_record(shared.patient_id, shared.record_id, ["labs"])
        assert err.value.status == 503
        assert err.value.retryable
        assert err.value.slug == "srs-unavailable"
        assert {u["node_id"] for u in err.value.problem["unreachable"]} == {"srs-2", "srs-3"}
        assert "srs-2" in err.value.detail and "srs-3" in err.value.detail
    finally:
        restart(stack, "srs-2")
        restart(stack, "srs-3")


@pytest.mark.parametrize("mode", ["foreign", "garbage"])
async def test_forged_cfrags_are_detected_and_honest_nodes_suffice(
    stack: Any, shared: Shared, mode: Any
) -> None:
    async with lying_node(stack, impersonate="srs-3", honest="srs-1", mode=mode):
        async with reader(stack, shared.world.doctor) as doctor:
            opened = await doctor.open_record(
                shared.patient_id, shared.record_id, ["labs", "conditions"], validate=False
            )
    # srs-3 signed with its real key: only the cfrag checks can tell
    assert opened.access.answered_nodes == ["srs-1", "srs-2", "srs-3"]
    assert opened.access.suspicious_nodes == {"srs-3": "forged cfrag"}
    for seg in opened.access.opened.values():
        assert seg.rejected_nodes == ["srs-3"]
        assert seg.nodes == ["srs-1", "srs-2"]
    assert segments_in(opened.bundle) == {"labs", "conditions"}


async def test_a_slow_node_is_left_behind(stack: Any, shared: Shared) -> None:
    async with lying_node(stack, impersonate="srs-3", mode="slow"):
        async with reader(stack, shared.world.doctor) as doctor:
            started = time.monotonic()
            opened = await doctor.open_record(
                shared.patient_id, shared.record_id, ["labs"], validate=False
            )
            # the per-node timeout (2 s) bounds the wait, not the slow node (3 s)
            assert time.monotonic() - started < SLOW_S
    assert opened.access.answered_nodes == ["srs-1", "srs-2"]
    assert segments_in(opened.bundle) == {"labs"}


async def test_requests_cfrags_and_ciphertext_are_bound_to_their_user(
    stack: Any, shared: Shared
) -> None:
    world = shared.world
    async with reader(stack, world.doctor) as doctor:
        access = await doctor.request_access(shared.patient_id, shared.record_id, ["labs"])
    # the ciphertext comes straight from S3 through the URL issued to this request
    labs_url = access.urls["labs"]
    async with httpx.AsyncClient(timeout=10) as http:
        mine = await http.get(labs_url)
        assert mine.status_code == 200
        assert hashlib.sha256(mine.content).hexdigest() == access.manifest.segment("labs").sha256
        # the URL for one segment opens no other object
        version = access.manifest.segment("labs").capsule_version
        other = labs_url.replace(f"/labs/v{version}?", f"/insurance/v{version}?")
        assert other != labs_url
        assert (await http.get(other)).status_code == 403
        # nor can it be turned into a write
        assert (await http.put(labs_url, content=b"x")).status_code == 403

    # no URL, and no manifest, for what the SRS threshold refused
    refused = await _raw_access(stack, world.doctor.token, shared, ["insurance"])
    assert refused["segments"] == {} and refused["signed_manifest"] is None
    assert "X-Amz-Signature" not in json.dumps(refused)
    stranger = await _raw_access(stack, world.other_doctor.token, shared, None)
    assert stranger["segments"] == {} and stranger["signed_manifest"] is None
    assert {d["segment"] for d in stranger["denied"]} >= {"labs", "insurance"}

    # the doctor's cfrags do not open for another user's key
    labs = access.opened["labs"]
    entry = access.manifest.segment("labs")
    with pytest.raises((FormatError, CryptoError)):
        open_granted(world.other_doctor.user.keys.pre, entry, labs.grant, [b"x"])
    raw_answer = await _raw_access(stack, world.doctor.token, shared, ["labs"])
    cfrags = [
        b64u_decode(g["cfrag"])
        for body in raw_answer["node_answers"]
        for g in body["granted"]
        if g["segment"] == "labs"
    ]
    assert (
        set(raw_answer["segments"]) == {"labs"} and "cfrags" not in raw_answer["segments"]["labs"]
    )
    doc = verify_grant(
        next(
            g["signed_grant"]
            for body in raw_answer["node_answers"]
            for g in body["granted"]
            if g["segment"] == "labs"
        )
    )
    forced = doc.model_copy(
        update={"receiving_pk": world.other_doctor.user.keys.pre.public_key().b64()}
    )
    with pytest.raises(CryptoError):
        open_granted(world.other_doctor.user.keys.pre, entry, forced, cfrags)

    # a user without grants gets nothing; one holding another's token opens nothing
    async with reader(stack, world.other_doctor) as other:
        with pytest.raises(AccessDenied):
            await other.fetch_record(shared.patient_id, shared.record_id)
    async with reader(stack, world.other_doctor, token=world.doctor.token) as thief:
        with pytest.raises(AccessDenied) as denied:
            await thief.fetch_record(shared.patient_id, shared.record_id, ["labs"])
        # the nodes answered the doctor (the token's owner); the thief's check refuses it
        assert "labs" in denied.value.denied
    async with reader(stack, world.other_doctor, token=world.doctor.token, user_id=None) as thief:
        with pytest.raises(AccessDenied) as denied:
            await thief.fetch_record(shared.patient_id, shared.record_id, ["labs"])
        assert denied.value.denied["labs"] == "granted to a key this reader does not hold"


async def test_a_service_token_reads_nothing(stack: Any, shared: Shared) -> None:
    from phr.identity.tokens import TokenSigner
    from tests.support.sharing import key_of

    token = TokenSigner(key_of(stack, "owner-api"), "owner-api").mint_service("user-api", ttl_s=60)
    async with httpx.AsyncClient(base_url=service_url(stack, "user-api"), timeout=10) as http:
        r = await http.post(
            "/v1/access",
            json={"patient_id": shared.patient_id, "record_id": shared.record_id},
            headers=bearer(token),
        )
    assert r.status_code == 403
    assert r.json()["type"].endswith("/not-a-data-user")


async def _raw_access(
    stack: Any, token: str, shared: Shared, segments: list[str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {"patient_id": shared.patient_id, "record_id": shared.record_id}
    if segments is not None:
        body["segments"] = segments
    async with httpx.AsyncClient(base_url=service_url(stack, "user-api"), timeout=10) as http:
        r = await http.post("/v1/access", json=body, headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body

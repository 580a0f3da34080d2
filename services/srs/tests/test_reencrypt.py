"""The re-encryption use case over MemoryStores: real cfrags, signed answers, audit events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from phr.api.srs import ReencryptRequest, ReencryptResponse
from phr.client.access import grantee_secret
from phr.crypto.grants import GrantDocument
from phr.crypto.manifest import SegmentEntry
from phr.crypto.signing import SigningKey, b64u_decode
from phr.events.access import AccessDecided
from phr.events.base import EventData
from srs import acl
from srs.acl import Caller
from srs.cache import ReadCache
from srs.errors import AuditUnavailable
from srs.reencrypt import Reencryptor

from .conftest import DOCTOR, NODE_IDS, PATIENT, World

DOC = Caller(DOCTOR, "doctor", org="org-1", dept="cardio")


class Audit:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[tuple[str, EventData]] = []
        self.fail = fail

    async def __call__(self, type: str, data: EventData, subject: str, cid: str | None) -> Any:
        if self.fail:
            raise ConnectionError("kafka down")
        assert subject == PATIENT
        self.events.append((type, data))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]


def reencryptors(world: World, audit: Audit) -> dict[str, tuple[Reencryptor, SigningKey]]:
    out = {}
    for node_id in NODE_IDS:
        key = SigningKey.generate()
        node = world.nodes[node_id]
        # Cached reads, dropped after each applied event as the consumer does in main.
        reads = ReadCache(node.store, node.identity)
        node.after_apply.append(reads.invalidate)
        out[node_id] = (
            Reencryptor(node.store, node.identity, key, audit, clock=world.clock, reads=reads),
            key,
        )
    return out


def request(*segments: str, reason: str | None = None) -> ReencryptRequest:
    return ReencryptRequest(
        request_id="req-1",
        patient_id=PATIENT,
        record_id="rec-1",
        segments=list(segments),
        breakglass_reason=reason,
    )


def entry(world: World, segment: str) -> SegmentEntry:
    return SegmentEntry(
        name=segment,
        key_version=1,
        capsule_version=1,
        chunk_size=1,
        plaintext_size=0,
        size=0,
        sha256="0" * 64,
        capsule=world.capsule(segment).b64(),
        tag_count=0,
        resource_count=0,
    )


def signature_ok(body: ReencryptResponse, key: SigningKey) -> bool:
    payload = body.model_dump(mode="json", exclude={"node_signature"})
    key.verify_key.verify_json(b64u_decode(body.node_signature), payload)
    return True


async def test_two_nodes_cfrags_open_the_segment_secret_for_the_grantee(world: World) -> None:
    await world.setup_basic()
    await world.everywhere(world.granted(segments=("labs",)))
    audit = Audit()
    answers = {
        n: await r.answer(DOC, request("labs", "notes"))
        for n, (r, _) in reencryptors(world, audit).items()
    }
    for node_id, body in answers.items():
        assert body.node_id == node_id and body.requester_id == DOCTOR
        assert [g.segment for g in body.granted] == ["labs"]
        assert [(d.segment, d.reason) for d in body.denied] == [("notes", acl.SEGMENT_NOT_GRANTED)]
    cfrags = [b64u_decode(answers[n].granted[0].cfrag) for n in ("srs-1", "srs-3")]
    document = GrantDocument.model_validate(answers["srs-1"].granted[0].signed_grant["grant"])
    secret = grantee_secret(world.doctor, entry(world, "labs"), document, cfrags)
    assert secret == world.secrets[("labs", 1)]
    # one node's cfrag is not enough
    with pytest.raises(Exception, match="threshold"):
        grantee_secret(world.doctor, entry(world, "labs"), document, cfrags[:1])
    # one decision event per node for the whole request, every segment in it
    assert audit.types() == ["access.decided"] * 3
    decided = [d for _, d in audit.events]
    for d in decided:
        assert isinstance(d, AccessDecided)
        assert [(g.segment, g.grant_id) for g in d.granted] == [
            ("labs", answers[d.node_id].granted[0].grant_id)
        ]
        assert [(x.segment, x.reason) for x in d.denied] == [("notes", acl.SEGMENT_NOT_GRANTED)]


async def test_answers_are_signed_by_the_node(world: World) -> None:
    await world.setup_basic()
    await world.everywhere(world.granted(segments=("labs",)))
    (r, key), (_, other) = list(reencryptors(world, Audit()).values())[:2]
    body = await r.answer(DOC, request("labs"))
    assert signature_ok(body, key)
    with pytest.raises(Exception, match="signature"):
        signature_ok(body, other)
    forged = body.model_copy(update={"requester_id": "someone-else"})
    with pytest.raises(Exception, match="signature"):
        signature_ok(forged, key)


async def test_revoked_grant_and_revoked_user_are_denied(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs",))
    await world.everywhere(world.granted(data))
    audit = Audit()
    r, _ = reencryptors(world, audit)["srs-2"]
    assert (await r.answer(DOC, request("labs"))).granted
    await world.everywhere(world.revoked(data.grant_id))
    body = await r.answer(DOC, request("labs"))
    assert not body.granted and body.denied[0].reason == acl.GRANT_REVOKED
    await world.everywhere(world.granted(segments=("labs",)), world.user_revoked(DOCTOR))
    body = await r.answer(DOC, request("labs"))
    assert body.denied[0].reason == acl.CALLER_REVOKED


async def test_a_patient_cannot_use_a_grant_to_someone_else(world: World) -> None:
    await world.setup_basic()
    await world.everywhere(world.granted(segments=("labs",)))
    r, _ = reencryptors(world, Audit())["srs-1"]
    body = await r.answer(Caller("pat-2", "patient"), request("labs"))
    assert not body.granted and body.denied[0].reason == acl.NO_GRANT


async def test_breakglass_with_and_without_a_reason(world: World) -> None:
    await world.setup_basic()
    emergency = world.grant_data(("labs",), group={"role": "doctor"}, emergency=True)
    await world.everywhere(world.granted(emergency))
    audit = Audit()
    r, _ = reencryptors(world, audit)["srs-1"]

    body = await r.answer(DOC, request("labs"))
    assert body.denied[0].reason == acl.BREAKGLASS_NEEDS_REASON and body.breakglass is None
    assert audit.types() == ["access.decided"]

    audit.events.clear()
    body = await r.answer(DOC, request("labs", "notes", reason="unconscious in ER"))
    assert [g.segment for g in body.granted] == ["labs"] and body.granted[0].breakglass
    assert body.breakglass is not None and body.breakglass.expires_in_s == 900
    assert sorted(audit.types()) == ["access.breakglass", "access.decided"]
    decided = dict(audit.events)["access.decided"]
    assert [(g.segment, g.breakglass) for g in decided.granted] == [("labs", True)]  # type: ignore[attr-defined]
    bg = dict(audit.events)["access.breakglass"]
    assert bg.reason == "unconscious in ER" and bg.segments == ["labs"]  # type: ignore[attr-defined]

    world.now += timedelta(minutes=10)  # inside the window: the same window counts down
    body = await r.answer(DOC, request("labs", reason="still in ER"))
    assert body.breakglass is not None and body.breakglass.expires_in_s == 300

    world.now += timedelta(minutes=6)  # after it: a new window opens
    body = await r.answer(DOC, request("labs", reason="back in ER"))
    assert body.breakglass is not None and body.breakglass.expires_in_s == 900

    # a nurse does not match the emergency grant's selector
    nurse = Caller("nurse-1", "nurse", org="org-1")
    body = await r.answer(nurse, request("labs", reason="ER"))
    assert body.denied[0].reason == acl.NO_GRANT


async def test_no_cfrag_leaves_when_the_audit_cannot_be_written(world: World) -> None:
    await world.setup_basic()
    await world.everywhere(world.granted(segments=("labs",)))
    r, _ = reencryptors(world, Audit(fail=True))["srs-1"]
    with pytest.raises(AuditUnavailable):
        await r.answer(DOC, request("labs"))


async def test_deleted_record_and_expired_grant(world: World) -> None:
    await world.setup_basic()
    await world.everywhere(
        world.granted(segments=("labs",), expires_at=world.now + timedelta(minutes=5))
    )
    r, _ = reencryptors(world, Audit())["srs-1"]
    assert (await r.answer(DOC, request("labs"))).granted
    world.now += timedelta(minutes=5)
    assert (await r.answer(DOC, request("labs"))).denied[0].reason == acl.EXPIRED
    await world.everywhere(world.deleted("rec-1"))
    assert (await r.answer(DOC, request("labs"))).denied[0].reason == acl.RECORD_DELETED

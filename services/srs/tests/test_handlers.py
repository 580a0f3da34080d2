"""Event handlers over a MemoryStore with real grants: what a node keeps, and what not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from phr.crypto.keys import UserKeys
from phr.crypto.signing import SigningKey
from phr.events.acl import KeyRotated
from phr.events.catalog import parse_data
from phr.events.envelope import EnvelopeInvalid

from .conftest import DOCTOR, PATIENT, World


async def test_a_valid_grant_keeps_only_this_nodes_kfrag(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs", "notes"))
    await world.everywhere(world.granted(data))
    for node_id, node in world.nodes.items():
        grant = node.store.grant(data.grant_id)
        assert grant.key_versions == {("labs", 1), ("notes", 1)}
        assert grant.grantee_user_id == DOCTOR and not grant.revoked
        kfrags = [kg.sealed_kfrag.b64() for kg in node.store.key_grants.values()]
        mine = {kg.sealed_kfrags[node_id] for kg in data.key_grants}
        others = {v for kg in data.key_grants for k, v in kg.sealed_kfrags.items() if k != node_id}
        assert set(kfrags) == mine and not set(kfrags) & others
        assert "bytes>" in repr(next(iter(node.store.key_grants.values())).sealed_kfrag)


async def test_a_grant_by_someone_else_is_rejected(world: World) -> None:
    await world.setup_basic()
    mallory = SigningKey.generate()
    data = world.grant_data(author=mallory)  # well signed, but not by the patient
    await world.everywhere(world.granted(data))
    for node in world.nodes.values():
        assert not node.store.has_grant(data.grant_id) and not node.store.key_grants
        assert node.store.count_rejections and node.handlers.stats.rejected_grants == 1
        (reason,) = [r for _, r, _ in node.store.rejected.values()]
        assert "neither the patient nor an active delegate" in reason


async def test_a_grant_with_a_broken_signature_is_rejected(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data()
    signed = dict(data.key_grants[0].signed_grant)
    signed["grant"] = {**signed["grant"], "expires_at": "2099-01-01T00:00:00+00:00"}
    kg = data.key_grants[0].model_copy(update={"signed_grant": signed})
    forged = data.model_copy(update={"key_grants": [kg]})
    await world.everywhere(world.granted(forged))
    node = world.nodes["srs-1"]
    assert not node.store.grants and not node.store.key_grants
    assert "signature" in next(iter(node.store.rejected.values()))[1]


async def test_a_kfrag_whose_hash_differs_from_the_document_is_rejected(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs", "notes"))
    other = world.grant_data(("labs",))  # a genuine kfrag, but of another grant
    kg0 = data.key_grants[0]
    swapped = {**kg0.sealed_kfrags, "srs-2": other.key_grants[0].sealed_kfrags["srs-2"]}
    tampered = data.model_copy(
        update={
            "key_grants": [kg0.model_copy(update={"sealed_kfrags": swapped}), data.key_grants[1]]
        }
    )
    await world.everywhere(world.granted(tampered))
    # srs-2 refuses the whole event (all or nothing); the others accept it
    assert not world.nodes["srs-2"].store.grants
    assert "hash" in next(iter(world.nodes["srs-2"].store.rejected.values()))[1]
    assert world.nodes["srs-1"].store.has_grant(data.grant_id)


async def test_a_grant_without_this_nodes_kfrag_is_rejected(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data()
    kg = data.key_grants[0]
    partial = {k: v for k, v in kg.sealed_kfrags.items() if k != "srs-3"}
    without = kg.model_copy(update={"sealed_kfrags": partial})
    event = data.model_copy(update={"key_grants": [without]})
    await world.everywhere(world.granted(event))
    assert not world.nodes["srs-3"].store.grants
    assert world.nodes["srs-1"].store.has_grant(data.grant_id)


async def test_document_must_match_the_event(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs",))
    # the event claims notes, the patient signed labs
    kg = data.key_grants[0].model_copy(update={"segment": "notes"})
    lying = data.model_copy(update={"key_grants": [kg], "segments": ["notes"]})
    await world.everywhere(world.granted(lying))
    assert not world.nodes["srs-1"].store.grants
    # and a grant to someone else than the event names
    other_grantee = data.model_copy(update={"grantee_user_id": "nurse-9"})
    await world.everywhere(world.granted(other_grantee))
    assert not world.nodes["srs-1"].store.grants


async def test_a_duplicate_event_changes_nothing(world: World) -> None:
    await world.setup_basic()
    event = world.granted(segments=("labs",))
    node = world.nodes["srs-1"]
    assert await node.apply(event)
    before = (dict(node.store.grants), dict(node.store.key_grants))
    assert not await node.apply(event)  # the consumer's processed-event record
    assert (dict(node.store.grants), dict(node.store.key_grants)) == before
    # the handler alone is idempotent as well (a replay without that record)
    await node.handlers(event, None)
    assert (dict(node.store.grants), dict(node.store.key_grants)) == before


async def test_forged_envelopes_never_reach_a_handler(world: World) -> None:
    await world.setup_basic()
    verify = world.verifier()
    data = world.grant_data()
    wrong_key = world.envelope("acl.granted", data, key=SigningKey.generate())
    with pytest.raises(EnvelopeInvalid):
        await verify(wrong_key)
    # the KGC's key is genuine, but the KGC does not publish grants
    wrong_producer = world.envelope("acl.granted", data, key=world.kgc, source="kgc")
    with pytest.raises(EnvelopeInvalid):
        await verify(wrong_producer)
    tampered = world.granted(data).model_copy(update={"subject": "pat-2"})
    with pytest.raises(EnvelopeInvalid):
        await verify(tampered)
    # owner-api cannot enrol users (nor swap a patient's key)
    genuine = parse_data(world.enrolled(PATIENT, UserKeys.generate()))
    resigned = world.envelope("user.enrolled", genuine, key=world.owner_api, source="owner-api")
    with pytest.raises(EnvelopeInvalid):
        await verify(resigned)


async def test_a_grant_before_the_patients_enrolment_waits_then_applies(world: World) -> None:
    node = world.nodes["srs-1"]
    data = world.grant_data()
    await node.apply(world.granted(data))
    assert not node.store.grants and len(node.store.pending) == 1
    pending = next(iter(node.store.pending.values()))
    only_mine = {k for kg in pending.data["key_grants"] for k in kg["sealed_kfrags"]}
    assert only_mine == {"srs-1"}  # other nodes' kfrags are not kept, even while pending
    await node.apply(world.enrolled(PATIENT, world.patient))
    assert node.store.has_grant(data.grant_id) and not node.store.pending


async def test_a_pending_forgery_is_rejected_once_the_patient_is_known(world: World) -> None:
    node = world.nodes["srs-1"]
    data = world.grant_data(author=SigningKey.generate())
    await node.apply(world.granted(data))
    await node.apply(world.enrolled(PATIENT, world.patient))
    assert not node.store.grants and not node.store.pending and node.store.rejected


async def test_an_active_delegate_may_sign_for_his_segments(world: World) -> None:
    await world.setup_basic()
    carer = UserKeys.generate()
    await world.everywhere(
        world.enrolled("carer-1", carer, "caregiver"), world.delegation("carer-1", ["labs"])
    )
    ok = world.grant_data(("labs",), author=carer.signing)
    outside = world.grant_data(("notes",), author=carer.signing)
    await world.everywhere(world.granted(ok), world.granted(outside))
    store = world.nodes["srs-1"].store
    assert store.has_grant(ok.grant_id) and not store.has_grant(outside.grant_id)
    # once the delegation ends, his new grants are refused
    await world.everywhere(world.delegation("carer-1", ["labs"], active=False))
    late = world.grant_data(("labs",), author=carer.signing)
    await world.everywhere(world.granted(late))
    assert not store.has_grant(late.grant_id)


async def test_revocation_deletes_the_kfrags_at_once(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(("labs", "notes"))
    await world.everywhere(world.granted(data), world.revoked(data.grant_id))
    for node in world.nodes.values():
        assert node.store.grant(data.grant_id).revoked and not node.store.key_grants
    # the same grant event delivered again (or late) does not bring it back
    await world.everywhere(world.granted(data))
    for node in world.nodes.values():
        assert node.store.grant(data.grant_id).revoked and not node.store.key_grants


async def test_revocation_before_the_grant_leaves_a_tombstone(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data()
    await world.everywhere(world.revoked(data.grant_id), world.granted(data))
    assert world.nodes["srs-1"].store.grant(data.grant_id).revoked


async def test_user_revocation_revokes_grants_to_him_and_future_ones(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data()
    await world.everywhere(world.granted(data), world.user_revoked(DOCTOR))
    store = world.nodes["srs-1"].store
    assert store.users[DOCTOR].revoked and store.grant(data.grant_id).revoked
    assert not store.key_grants
    late = world.grant_data()
    await world.everywhere(world.granted(late))
    assert not store.has_grant(late.grant_id)
    # a re-enrolment event does not clear the revocation
    await world.everywhere(world.enrolled(DOCTOR, world.doctor, "doctor", "org-1"))
    assert store.users[DOCTOR].revoked


async def test_a_second_grant_event_after_rotation_adds_the_new_version(world: World) -> None:
    await world.setup_basic()
    first = world.grant_data(("labs",), grant_id="g-rot")
    rotated = world.envelope(
        "key.rotated",
        KeyRotated(patient_id=PATIENT, segment="labs", new_version=2, rotated_by=PATIENT),
    )
    second = world.grant_data(("labs",), grant_id="g-rot", version=2)
    await world.everywhere(world.granted(first), rotated, world.granted(second))
    store = world.nodes["srs-1"].store
    assert store.grant("g-rot").key_versions == {("labs", 1), ("labs", 2)}
    assert len(store.key_grants) == 2
    assert await store.key_versions(PATIENT) == {"labs": 2}


async def test_grant_window_is_the_intersection_of_event_and_document(world: World) -> None:
    await world.setup_basic()
    data = world.grant_data(expires_at=world.now + timedelta(days=1))
    # owner-api stretches the event's expiry; the patient signed one day
    stretched = data.model_copy(update={"expires_at": world.now + timedelta(days=365)})
    await world.everywhere(world.granted(stretched))
    grant = world.nodes["srs-1"].store.grant(data.grant_id)
    assert grant.expires_at == world.now + timedelta(days=1)


async def test_records_are_noted_and_deleted(world: World) -> None:
    await world.setup_basic()
    store = world.nodes["srs-2"].store
    record = store.records[(PATIENT, "rec-1")]
    assert record.patient_id == PATIENT and record.segment("labs") is not None
    assert record.segment("labs").capsule == world.capsule("labs").b64()  # type: ignore[union-attr]
    await world.everywhere(world.deleted("rec-1"))
    assert store.records[(PATIENT, "rec-1")].deleted_at is not None
    await world.everywhere(world.uploaded("rec-1"))  # a late copy does not undelete
    assert store.records[(PATIENT, "rec-1")].deleted_at is not None


async def test_well_signed_but_malformed_data_is_refused_not_retried(world: World) -> None:
    from phr.events.envelope import new_event

    event = new_event(
        key=world.owner_api,
        source="owner-api",
        type="acl.granted",
        schemaversion=1,
        subject=PATIENT,
        data={"grant_id": "g-bad", "sealed": "secret-ish"},
    )
    node = world.nodes["srs-1"]
    await node.apply(event, world.verifier())  # returns normally: the consumer moves on
    assert not node.store.has_grant("g-bad") and len(node.store.rejected) == 1


async def test_naive_times_from_a_producer_are_taken_as_utc(world: World) -> None:
    await world.setup_basic()
    naive_expiry = (world.now + timedelta(hours=1)).replace(tzinfo=None)
    data = world.grant_data().model_copy(update={"expires_at": naive_expiry})
    await world.everywhere(world.granted(data))
    grant = world.nodes["srs-1"].store.grant(data.grant_id)
    assert grant.expires_at == world.now + timedelta(hours=1)


async def test_revoking_a_pending_grant_keeps_its_segments_on_the_tombstone(
    world: World,
) -> None:
    """On a replay the revocation can come before the enrolment: same end state anyway."""
    node = world.nodes["srs-1"]
    data = world.grant_data()
    await node.apply(world.granted(data))
    await node.apply(world.revoked(data.grant_id))
    await node.apply(world.enrolled(PATIENT, world.patient))
    tombstone = node.store.grant(data.grant_id)
    assert tombstone.revoked and tuple(tombstone.segments) == tuple(data.segments)
    assert not node.store.pending and not node.store.key_grants

"""Ids a client chooses are scoped by their patient (issue 19, H1 and H2)."""

from __future__ import annotations

from .conftest import PATIENT, World
from .test_reencrypt import DOC, Audit, reencryptors, request

OTHER = "pat-2"


async def _doctor_reads_labs(world: World) -> None:
    """srs-1 re-encrypts the first patient's rec-1 labs for the doctor."""
    reencryptor, _ = reencryptors(world, Audit())["srs-1"]
    answer = await reencryptor.answer(DOC, request("labs"))
    assert [g.segment for g in answer.granted] == ["labs"] and not answer.denied


async def _with_other_patient(world: World) -> None:
    """A second patient, enrolled with the first one's keys (what matters here is only
    whose ids are whose: both sign valid grants)."""
    await world.setup_basic()
    await world.everywhere(world.enrolled(OTHER, world.patient))


async def test_a_revocation_naming_anothers_grant_changes_nothing_and_is_counted(
    world: World,
) -> None:
    await _with_other_patient(world)
    mine = world.grant_data(("labs",))
    await world.everywhere(world.granted(mine))
    await world.everywhere(world.revoked(mine.grant_id, patient_id=OTHER))
    for node in world.nodes.values():
        assert not node.store.grant(mine.grant_id).revoked
        assert await node.store.count_key_grants(PATIENT, mine.grant_id) == 1
        assert await node.store.get_grant(OTHER, mine.grant_id) is None  # no tombstone
        reasons = [r[1] for r in node.store.rejected.values()]
        assert reasons == ["grant id belongs to another patient"]


async def test_anothers_grant_of_the_same_id_is_his_own_and_his_revocation_too(
    world: World,
) -> None:
    await _with_other_patient(world)
    mine = world.grant_data(("labs",))
    theirs = world.grant_data(("labs",), grant_id=mine.grant_id, patient_id=OTHER)
    await world.everywhere(world.granted(mine), world.granted(theirs))
    await world.everywhere(world.revoked(mine.grant_id, patient_id=OTHER))
    for node in world.nodes.values():
        own = await node.store.get_grant(PATIENT, mine.grant_id)
        other = await node.store.get_grant(OTHER, mine.grant_id)
        assert own is not None and not own.revoked
        assert other is not None and other.revoked
        assert await node.store.count_key_grants(PATIENT, mine.grant_id) == 1
        assert await node.store.count_key_grants(OTHER, mine.grant_id) == 0
    await _doctor_reads_labs(world)


async def test_anothers_record_of_the_same_id_leaves_the_first_readable(world: World) -> None:
    await _with_other_patient(world)
    mine = world.grant_data(("labs",))
    await world.everywhere(world.granted(mine))
    await world.everywhere(
        world.uploaded("rec-1", patient_id=OTHER), world.deleted("rec-1", patient_id=OTHER)
    )
    node = world.nodes["srs-1"]
    own = await node.store.get_record(PATIENT, "rec-1")
    other = await node.store.get_record(OTHER, "rec-1")
    assert own is not None and own.deleted_at is None and own.patient_id == PATIENT
    assert other is not None and other.deleted_at is not None
    await _doctor_reads_labs(world)


async def test_a_deletion_naming_anothers_record_changes_nothing_and_is_counted(
    world: World,
) -> None:
    await _with_other_patient(world)
    await world.everywhere(world.deleted("rec-1", patient_id=OTHER))
    for node in world.nodes.values():
        own = await node.store.get_record(PATIENT, "rec-1")
        assert own is not None and own.deleted_at is None
        assert await node.store.get_record(OTHER, "rec-1") is None
        assert await node.store.count_rejections() == 1

"""Umbral behind our interface, sealed kfrags and the SRS re-encryption."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phr.crypto import pre
from phr.crypto.errors import (
    CapsuleFragInvalid,
    CapsuleOpenError,
    FormatError,
    KeyFragInvalid,
    NotEnoughFragments,
    UnsealError,
)
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.reencrypt import open_sealed_kfrag
from phr.crypto.seal import NodeSecretKey, seal, unseal
from phr.crypto.segment_secret import SegmentSecret

MASTER = PatientMasterKey(bytes(range(32)))
SIGNER = MASTER.kfrag_signer()
LABS_SK = MASTER.segment_secret_key("labs", 1)
INS_SK = MASTER.segment_secret_key("insurance", 1)
BOB = UserKeys.generate()


def kfrags_for(sk: pre.PreSecretKey, t: int = 2, n: int = 3) -> list[bytes]:
    return pre.generate_kfrags(sk, BOB.pre.public_key(), SIGNER, threshold=t, shares=n)


def keys(sk: pre.PreSecretKey) -> dict[str, pre.PrePublicKey]:
    return {"verifying_pk": SIGNER.public_key(), "delegating_pk": sk.public_key()}


def cfrags(capsule: pre.KeyCapsule, kfrags: list[bytes], sk: pre.PreSecretKey) -> list[bytes]:
    return [
        pre.reencrypt(capsule, k, receiving_pk=BOB.pre.public_key(), **keys(sk)) for k in kfrags
    ]


def test_owner_and_contributor_encapsulation() -> None:
    secret = SegmentSecret.generate()
    # A contributor needs only the published public key.
    capsule = pre.encapsulate(MASTER.segment_public_key("labs", 1), secret)
    again = pre.KeyCapsule.from_bytes(capsule.to_bytes())
    assert pre.open_capsule(LABS_SK, again) == secret
    with pytest.raises(CapsuleOpenError):
        pre.open_capsule(INS_SK, capsule)
    with pytest.raises(FormatError):
        pre.KeyCapsule.from_bytes(b"PHRC\x02" + capsule.to_bytes()[5:])


@pytest.mark.parametrize(("t", "n"), [(1, 1), (2, 3), (3, 5)])
def test_threshold_t_succeeds_t_minus_1_fails(t: int, n: int) -> None:
    secret = SegmentSecret.generate()
    capsule = pre.encapsulate(LABS_SK.public_key(), secret)
    cf = cfrags(capsule, kfrags_for(LABS_SK, t, n), LABS_SK)
    opened = pre.open_reencrypted(BOB.pre, capsule, cf[-t:], threshold=t, **keys(LABS_SK))
    assert opened == secret
    if t > 1:
        with pytest.raises(NotEnoughFragments):
            pre.open_reencrypted(BOB.pre, capsule, cf[: t - 1], threshold=t, **keys(LABS_SK))
        # Even if a caller lies about the threshold, Umbral itself refuses.
        with pytest.raises(CapsuleOpenError):
            pre.open_reencrypted(BOB.pre, capsule, cf[: t - 1], threshold=1, **keys(LABS_SK))


def test_kfrag_for_segment_a_cannot_open_segment_b() -> None:
    capsule_b = pre.encapsulate(INS_SK.public_key(), SegmentSecret.generate())
    kf_a = kfrags_for(LABS_SK)
    # Presented honestly (segment A's keys) the SRS re-encrypts, but nothing opens.
    cf = cfrags(capsule_b, kf_a, LABS_SK)
    with pytest.raises((CapsuleFragInvalid, CapsuleOpenError)):
        pre.open_reencrypted(BOB.pre, capsule_b, cf[:2], threshold=2, **keys(LABS_SK))
    # Claimed to be for segment B, the kfrag does not verify.
    with pytest.raises(KeyFragInvalid):
        pre.reencrypt(capsule_b, kf_a[0], receiving_pk=BOB.pre.public_key(), **keys(INS_SK))


def test_forged_and_foreign_kfrags_are_rejected() -> None:
    capsule = pre.encapsulate(LABS_SK.public_key(), SegmentSecret.generate())
    # Forged: made by someone else's signer.
    mallory = pre.PreSecretKey.generate()
    forged = pre.generate_kfrags(LABS_SK, BOB.pre.public_key(), mallory, threshold=2, shares=3)
    with pytest.raises(KeyFragInvalid):
        pre.reencrypt(capsule, forged[0], receiving_pk=BOB.pre.public_key(), **keys(LABS_SK))
    # Foreign: a valid kfrag for another grantee, its cfrag offered to Bob.
    carol = UserKeys.generate()
    other = pre.generate_kfrags(LABS_SK, carol.pre.public_key(), SIGNER, threshold=2, shares=3)
    foreign = [
        pre.reencrypt(capsule, k, receiving_pk=carol.pre.public_key(), **keys(LABS_SK))
        for k in other[:2]
    ]
    with pytest.raises(CapsuleFragInvalid):
        pre.open_reencrypted(BOB.pre, capsule, foreign, threshold=2, **keys(LABS_SK))
    with pytest.raises(CapsuleFragInvalid):
        pre.open_reencrypted(BOB.pre, capsule, [b"junk"], threshold=1, **keys(LABS_SK))
    # A cfrag made for a different capsule.
    capsule2 = pre.encapsulate(LABS_SK.public_key(), SegmentSecret.generate())
    good = kfrags_for(LABS_SK)
    wrong = cfrags(capsule2, good[:2], LABS_SK)
    with pytest.raises(CapsuleFragInvalid):
        pre.open_reencrypted(BOB.pre, capsule, wrong, threshold=2, **keys(LABS_SK))


@settings(max_examples=5, deadline=None)
@given(secret=st.binary(min_size=64, max_size=64))
def test_pre_round_trip_property(secret: bytes) -> None:
    s = SegmentSecret.from_bytes(secret)
    capsule = pre.encapsulate(LABS_SK.public_key(), s)
    cf = cfrags(capsule, kfrags_for(LABS_SK, 1, 1), LABS_SK)
    assert pre.open_reencrypted(BOB.pre, capsule, cf, threshold=1, **keys(LABS_SK)) == s


# --- sealing -----------------------------------------------------------------------


def test_seal_round_trip_and_bindings() -> None:
    node, other = NodeSecretKey.generate(), NodeSecretKey.generate()
    env = seal(node.public_key(), b"kfrag", node_id="srs-1", grant_id="g-1")
    assert unseal(node, env, node_id="srs-1", grant_id="g-1") == b"kfrag"
    for kwargs in (
        {"node_id": "srs-2", "grant_id": "g-1"},
        {"node_id": "srs-1", "grant_id": "g-2"},
    ):
        with pytest.raises(UnsealError):
            unseal(node, env, **kwargs)
    with pytest.raises(UnsealError):
        unseal(other, env, node_id="srs-1", grant_id="g-1")
    bad = bytearray(env)
    bad[-1] ^= 1
    with pytest.raises(UnsealError):
        unseal(node, bytes(bad), node_id="srs-1", grant_id="g-1")
    with pytest.raises(FormatError):
        unseal(node, b"PHRK\x02" + env[5:], node_id="srs-1", grant_id="g-1")


def test_sealed_envelope_golden(golden: Callable[[str, bytes], None]) -> None:
    node = NodeSecretKey(bytes([1] * 32))
    eph = NodeSecretKey(bytes([2] * 32))
    env = seal(node.public_key(), b"sealed kfrag", node_id="srs-0", grant_id="g-0", ephemeral=eph)
    golden("sealed_kfrag_v1.bin", env)
    assert unseal(node, env, node_id="srs-0", grant_id="g-0") == b"sealed kfrag"


def test_srs_reencrypt_sealed() -> None:
    nodes = [NodeSecretKey.generate() for _ in range(3)]
    secret = SegmentSecret.generate()
    capsule = pre.encapsulate(LABS_SK.public_key(), secret)
    kf = kfrags_for(LABS_SK)
    sealed = [
        seal(n.public_key(), k, node_id=f"srs-{i}", grant_id="g")
        for i, (n, k) in enumerate(zip(nodes, kf, strict=True))
    ]
    common: dict[str, Any] = {
        "grant_id": "g",
        "verifying_pk": SIGNER.public_key(),
        "delegating_pk": LABS_SK.public_key(),
        "receiving_pk": BOB.pre.public_key(),
    }
    cf = [
        pre.reencrypt_verified(
            pre.KeyCapsule.from_bytes(capsule.to_bytes()),
            open_sealed_kfrag(nodes[i], node_id=f"srs-{i}", sealed_kfrag=sealed[i], **common),
        )
        for i in (0, 2)
    ]
    assert pre.open_reencrypted(BOB.pre, capsule, cf, threshold=2, **keys(LABS_SK)) == secret
    with pytest.raises(UnsealError):  # node 1 cannot use node 0's envelope
        open_sealed_kfrag(nodes[1], node_id="srs-0", sealed_kfrag=sealed[0], **common)

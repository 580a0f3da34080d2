"""Opening a capsule from cfrags of which some are forged: the liars are named, not fatal."""

from __future__ import annotations

import os

import pytest

from phr.crypto.errors import NotEnoughFragments
from phr.crypto.pre import (
    KeyCapsule,
    PreSecretKey,
    encapsulate,
    generate_kfrags,
    open_reencrypted_skipping,
    reencrypt,
)
from phr.crypto.segment_secret import SegmentSecret


def setup_2_of_3() -> tuple[
    PreSecretKey, PreSecretKey, PreSecretKey, SegmentSecret, list[bytes], KeyCapsule
]:
    owner, signer, reader = (
        PreSecretKey.generate(),
        PreSecretKey.generate(),
        PreSecretKey.generate(),
    )
    secret = SegmentSecret.generate()
    capsule = encapsulate(owner.public_key(), secret)
    kfrags = generate_kfrags(owner, reader.public_key(), signer, threshold=2, shares=3)
    cfrags = [
        reencrypt(
            capsule,
            k,
            verifying_pk=signer.public_key(),
            delegating_pk=owner.public_key(),
            receiving_pk=reader.public_key(),
        )
        for k in kfrags
    ]
    return owner, signer, reader, secret, cfrags, capsule


def test_forged_cfrags_are_skipped_and_named() -> None:
    owner, signer, reader, secret, cfrags, capsule = setup_2_of_3()
    forged = os.urandom(len(cfrags[0]))
    got, rejected = open_reencrypted_skipping(
        reader,
        capsule,
        [forged, cfrags[0], cfrags[0], cfrags[2]],
        threshold=2,
        verifying_pk=signer.public_key(),
        delegating_pk=owner.public_key(),
    )
    assert got == secret
    assert rejected == [0]


def test_below_threshold_of_valid_ones_fails() -> None:
    owner, signer, reader, _, cfrags, capsule = setup_2_of_3()
    with pytest.raises(NotEnoughFragments):
        open_reencrypted_skipping(
            reader,
            capsule,
            [cfrags[1], cfrags[1], b"garbage"],
            threshold=2,
            verifying_pk=signer.public_key(),
            delegating_pk=owner.public_key(),
        )

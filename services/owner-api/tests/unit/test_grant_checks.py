"""A grant's key grants are refused, with a useful detail, before anything is recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from owner_api.errors import GrantInvalid, ManifestInvalid
from owner_api.sharing.grant_checks import GrantTerms, check_key_grants
from owner_api.sharing.keys import check_rewrap
from phr.api.owner import KeyGrantIn
from phr.client import OwnerKeys, encrypt_record
from phr.client.grant import SrsNode, make_grant
from phr.client.rotation import rotate_segment
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.seal import NodeSecretKey
from phr.crypto.signing import SigningKey, b64u_encode

NODES = [SrsNode(f"srs-{i}", NodeSecretKey.generate().public_key()) for i in (1, 2, 3)]
NODE_IDS = [n.node_id for n in NODES]
MASTER = PatientMasterKey.generate()
PATIENT = SigningKey.generate()
DOCTOR = UserKeys.generate()
EXPIRES = datetime(2030, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)


def key_grant(
    segment: str = "labs", version: int = 1, *, author: SigningKey = PATIENT, **kw: Any
) -> KeyGrantIn:
    args: dict[str, Any] = {
        "patient_id": "u_p",
        "grantee_id": "u_d",
        "grantee_pk": DOCTOR.pre.public_key(),
        "segment": segment,
        "key_version": version,
        "nodes": NODES,
        "threshold": 2,
        "grant_id": f"g1/{segment}/v{version}",
        "expires_at": EXPIRES.isoformat(),
    } | kw
    g = make_grant(MASTER, author, **args)
    return KeyGrantIn(
        segment=segment,
        key_version=version,
        signed_grant=g.signed.model_dump(mode="json"),
        sealed_kfrags={n: b64u_encode(s) for n, s in g.sealed_kfrags.items()},
    )


def terms(**kw: Any) -> GrantTerms:
    base: dict[str, Any] = {
        "patient_id": "u_p",
        "grant_id": "g1",
        "grantee_id": "u_d",
        "receiving_pks": frozenset({DOCTOR.pre.public_key().b64()}),
        "segments": frozenset({"labs", "notes"}),
        "threshold": 2,
        "author_fp": PATIENT.verify_key.fingerprint(),
        "expires_at": EXPIRES,
    }
    return GrantTerms(**(base | kw))


def test_a_well_formed_grant_passes() -> None:
    got = check_key_grants([key_grant(), key_grant("notes")], terms(), NODE_IDS)
    assert [(s, v) for s, v, _ in got] == [("labs", 1), ("notes", 1)]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda: (key_grant(author=SigningKey.generate()), terms()), "caller's enrolled key"),
        (lambda: (key_grant(patient_id="u_other"), terms()), "patient"),
        (lambda: (key_grant("insurance"), terms()), "segment"),
        (lambda: (key_grant(threshold=3), terms()), "threshold"),
        (lambda: (key_grant(grant_id="g2/labs/v1"), terms()), "grant_id"),
        (lambda: (key_grant(grantee_id="u_x"), terms()), "grantee"),
        (
            lambda: (key_grant(grantee_pk=UserKeys.generate().pre.public_key()), terms()),
            "receiving_pk",
        ),
        (lambda: (key_grant(expires_at=None), terms()), "expires_at"),
    ],
)
def test_a_mismatching_document_is_refused(mutate: Any, message: str) -> None:
    kg, t = mutate()
    with pytest.raises(GrantInvalid, match=message):
        check_key_grants([kg], t, NODE_IDS)


def test_a_tampered_signature_or_kfrag_is_refused() -> None:
    kg = key_grant()
    signed = dict(kg.signed_grant)
    signed["grant"] = {**signed["grant"], "purpose": "marketing"}
    with pytest.raises(GrantInvalid, match="signed grant rejected"):
        check_key_grants([kg.model_copy(update={"signed_grant": signed})], terms(), NODE_IDS)
    swapped = dict(kg.sealed_kfrags)
    swapped["srs-1"], swapped["srs-2"] = swapped["srs-2"], swapped["srs-1"]
    with pytest.raises(GrantInvalid, match="not the one the grant pins"):
        check_key_grants([kg.model_copy(update={"sealed_kfrags": swapped})], terms(), NODE_IDS)
    with pytest.raises(GrantInvalid, match="one sealed kfrag for each SRS node"):
        check_key_grants([kg], terms(), [*NODE_IDS, "srs-4"])
    with pytest.raises(GrantInvalid, match="twice"):
        check_key_grants([kg, kg], terms(), NODE_IDS)


def test_times_compare_at_millisecond_precision() -> None:
    stored = EXPIRES.replace(microsecond=123456)  # what the client sent; Mongo keeps ms
    check_key_grants([key_grant()], terms(expires_at=stored), NODE_IDS)


def test_a_rewrapped_manifest_may_change_capsules_only() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "id": "p1"}}],
    }
    record = encrypt_record(
        bundle,
        patient_id="u_p",
        record_id="r1",
        keys=OwnerKeys(MASTER),
        author=PATIENT,
        validate=False,
    )
    old = record.signed_manifest
    segment = old.manifest.segments[0].name
    new = rotate_segment(old, MASTER, PATIENT, segment=segment, to_version=2)
    check_rewrap(old.manifest, new.manifest, {segment: 2})
    with pytest.raises(ManifestInvalid, match="current"):
        check_rewrap(old.manifest, new.manifest, {segment: 1})
    entry = new.manifest.segments[0].model_copy(update={"sha256": "0" * 64})
    forged = new.manifest.model_copy(update={"segments": [entry]})
    with pytest.raises(ManifestInvalid, match="only its capsule"):
        check_rewrap(old.manifest, forged, {segment: 2})

"""The SDK's crypto side end to end: records, grants, search, rotation, contributors."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from phr.client import (
    ContributorKeys,
    OwnerKeys,
    SrsNode,
    decrypt_record,
    decrypt_segment,
    encrypt_record,
    grantee_secret,
    make_grant,
    owner_secret,
    rotate_segment,
    trapdoors_for,
)
from phr.crypto.documents import sign_document, verify_document
from phr.crypto.errors import (
    CapsuleOpenError,
    DigestMismatch,
    IntegrityError,
    NotEnoughFragments,
)
from phr.crypto.grants import verify_grant
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.manifest import verify_manifest
from phr.crypto.pre import KeyCapsule, reencrypt_verified
from phr.crypto.reencrypt import open_sealed_kfrag
from phr.crypto.seal import NodeSecretKey
from phr.crypto.search import keyword_tags, match_trapdoors, trapdoor
from phr.crypto.signing import SignatureInvalid
from phr.fhir.synthetic import load_bundle

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "synthea_r4_seed42.json.gz"
MASTER = PatientMasterKey.generate()
PATIENT, DOCTOR = UserKeys.generate(), UserKeys.generate()
NODE_SKS = [NodeSecretKey.generate() for _ in range(3)]
NODES = [SrsNode(f"srs-{i}", k.public_key()) for i, k in enumerate(NODE_SKS)]


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return load_bundle(FIXTURE)


@pytest.fixture(scope="module")
def record(bundle: dict[str, Any]) -> Any:
    return encrypt_record(
        bundle,
        patient_id="p1",
        record_id="r1",
        keys=OwnerKeys(MASTER),
        author=PATIENT.signing,
        chunk_size=64 * 1024,
    )


def cts(rec: Any) -> dict[str, list[bytes]]:
    return {n: [s.ciphertext] for n, s in rec.segments.items()}


def srs_cfrags(grant: Any, capsule: str, nodes: list[int]) -> list[bytes]:
    doc = verify_grant(
        grant.signed.model_dump(mode="json"), expected_author=PATIENT.signing.verify_key
    )
    ver, dele, recv = doc.keys()
    return [
        reencrypt_verified(
            KeyCapsule.from_b64(capsule),
            open_sealed_kfrag(
                NODE_SKS[i],
                node_id=f"srs-{i}",
                grant_id=doc.grant_id,
                sealed_kfrag=grant.sealed_kfrags[f"srs-{i}"],
                verifying_pk=ver,
                delegating_pk=dele,
                receiving_pk=recv,
            ),
        )
        for i in nodes
    ]


def test_owner_round_trip(bundle: dict[str, Any], record: Any) -> None:
    manifest = verify_manifest(
        record.signed_manifest.model_dump(mode="json"), expected_author=PATIENT.signing.verify_key
    )
    assert {s.name for s in manifest.segments} >= {"labs", "demographics", "insurance", "other"}
    assert sum(s.resource_count for s in manifest.segments) == len(bundle["entry"])
    secrets = {s.name: owner_secret(MASTER, s) for s in manifest.segments}
    out = decrypt_record(record.signed_manifest, secrets=secrets, ciphertexts=cts(record))
    assert out["entry"] == bundle["entry"] and out["type"] == bundle["type"]


def test_manifest_tampering_is_detected(record: Any) -> None:
    raw = record.signed_manifest.model_dump(mode="json")
    bad = copy.deepcopy(raw)
    bad["manifest"]["segments"][0]["sha256"] = "0" * 64
    with pytest.raises(SignatureInvalid):
        verify_manifest(bad)
    with pytest.raises(SignatureInvalid):
        verify_manifest(raw, expected_author=DOCTOR.signing.verify_key)
    extra = copy.deepcopy(raw)
    extra["manifest"]["unknown"] = 1
    with pytest.raises(SignatureInvalid):
        verify_manifest(extra)


def test_ciphertext_swap_between_segments_fails(record: Any) -> None:
    m = record.manifest
    secret = owner_secret(MASTER, m.segment("labs"))
    swapped = {"labs": [record.segments["insurance"].ciphertext]}
    with pytest.raises(IntegrityError):  # the AAD names the segment: chunk 0 fails
        decrypt_record(record.signed_manifest, secrets={"labs": secret}, ciphertexts=swapped)
    other = record.manifest.model_copy(update={"record_id": "r1"})
    with pytest.raises(DigestMismatch):  # right context and key, wrong digest
        decrypt_segment(
            secret,
            other,
            m.segment("labs").model_copy(update={"sha256": "0" * 64}),
            [record.segments["labs"].ciphertext],
        )


def test_grant_share_and_search(record: Any) -> None:
    grant = make_grant(
        MASTER,
        PATIENT.signing,
        patient_id="p1",
        grantee_id="dr-who",
        grantee_pk=DOCTOR.pre.public_key(),
        segment="labs",
        key_version=1,
        nodes=NODES,
        threshold=2,
        purpose="treatment",
    )
    doc = grant.signed.grant
    entry = record.manifest.segment("labs")
    secret = grantee_secret(DOCTOR, entry, doc, srs_cfrags(grant, entry.capsule, [1, 2]))
    labs = decrypt_record(
        record.signed_manifest,
        secrets={"labs": secret},
        ciphertexts={"labs": [record.segments["labs"].ciphertext]},
    )
    assert {e["resource"]["resourceType"] for e in labs["entry"]} <= {
        "Observation",
        "DiagnosticReport",
    }
    with pytest.raises(NotEnoughFragments):
        grantee_secret(DOCTOR, entry, doc, srs_cfrags(grant, entry.capsule, [0]))
    # The grant for labs is useless on insurance, even with a colluding SRS.
    ins = record.manifest.segment("insurance")
    with pytest.raises(CapsuleOpenError):
        grantee_secret(
            DOCTOR,
            ins,
            doc.model_copy(update={"segment": "insurance"}),
            srs_cfrags(grant, ins.capsule, [0, 1]),
        )
    # Search: the grantee's trapdoors match the owner's tags; cloud-store sees only hex.
    tags = record.segments["labs"].tags
    assert len(tags) == entry.tag_count > 0
    query = trapdoors_for(secret.search_key, ["http://loinc.org|8302-2", "hemoglobin", "zebra"])
    hits = match_trapdoors(set(tags), query.values())
    assert query["http://loinc.org|8302-2"] in hits and query["zebra/zebra"] not in hits


def test_rotation_rewraps_capsules_only(record: Any) -> None:
    old_grant = make_grant(
        MASTER,
        PATIENT.signing,
        patient_id="p1",
        grantee_id="dr",
        grantee_pk=DOCTOR.pre.public_key(),
        segment="labs",
        key_version=1,
        nodes=NODES,
        threshold=2,
    )
    rotated = rotate_segment(
        record.signed_manifest, MASTER, PATIENT.signing, segment="labs", to_version=2
    )
    entry = verify_manifest(rotated).segment("labs")
    old_entry = record.manifest.segment("labs")
    assert (entry.key_version, entry.capsule_version) == (1, 2)
    assert entry.sha256 == old_entry.sha256 and entry.capsule != old_entry.capsule
    assert owner_secret(MASTER, entry) == owner_secret(MASTER, old_entry)
    # Old kfrags open nothing any more: the re-wrapped capsule is under v2.
    with pytest.raises(CapsuleOpenError):
        grantee_secret(
            DOCTOR, entry, old_grant.signed.grant, srs_cfrags(old_grant, entry.capsule, [0, 1])
        )
    new_grant = make_grant(
        MASTER,
        PATIENT.signing,
        patient_id="p1",
        grantee_id="dr",
        grantee_pk=DOCTOR.pre.public_key(),
        segment="labs",
        key_version=2,
        nodes=NODES,
        threshold=2,
    )
    secret = grantee_secret(
        DOCTOR, entry, new_grant.signed.grant, srs_cfrags(new_grant, entry.capsule, [0, 2])
    )
    decrypt_record(
        rotated,
        secrets={"labs": secret},
        ciphertexts={"labs": [record.segments["labs"].ciphertext]},
    )


def test_contributor_writes_without_the_patient(bundle: dict[str, Any]) -> None:
    hospital = UserKeys.generate()
    published = {
        s: (MASTER.segment_public_key(s, 1), 1)
        for s in (
            "demographics",
            "conditions",
            "labs",
            "medications",
            "immunizations",
            "procedures",
            "imaging",
            "notes",
            "insurance",
            "other",
        )
    }
    small = {**bundle, "entry": bundle["entry"][:60]}
    rec = encrypt_record(
        small,
        patient_id="p1",
        record_id="r-hosp",
        keys=ContributorKeys(published),
        author=hospital.signing,
        validate=False,
    )
    verify_manifest(rec.signed_manifest, expected_author=hospital.signing.verify_key)
    secrets = {s.name: owner_secret(MASTER, s) for s in rec.manifest.segments}
    out = decrypt_record(rec.signed_manifest, secrets=secrets, ciphertexts=cts(rec))
    assert out["entry"] == small["entry"]


def test_search_tags_and_documents() -> None:
    key = bytes(32)
    tags = keyword_tags(key, ["LOINC:8302-2", "loinc:8302-2", " Blood  Pressure ", ""])
    assert len(tags) == 2 and tags == sorted(tags)
    assert trapdoor(key, "blood pressure") in tags
    assert match_trapdoors(tags, [trapdoor(bytes([1] * 32), "blood pressure")]) == []
    doc = {"type": "acl.granted", "subject": "p1", "data": {"segment": "labs"}}
    sig = sign_document(PATIENT.signing, doc)
    verify_document(
        PATIENT.signing.verify_key,
        {"subject": "p1", "data": {"segment": "labs"}, "type": "acl.granted"},
        sig,
    )
    with pytest.raises(SignatureInvalid):
        verify_document(PATIENT.signing.verify_key, {**doc, "subject": "p2"}, sig)

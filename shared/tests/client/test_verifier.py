"""The access verifier: the threshold rule, node answers, cfrags, with real Umbral keys."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from phr.client import OwnerKeys, SrsNode, encrypt_record, make_grant
from phr.client.verifier import (
    AccessIntegrityError,
    candidates,
    needed,
    open_access,
    tally,
    verified_answers,
)
from phr.crypto.grants import verify_grant
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.pre import KeyCapsule, reencrypt_verified
from phr.crypto.reencrypt import open_sealed_kfrag
from phr.crypto.seal import NodeSecretKey
from phr.crypto.signing import SigningKey, b64u_encode

MASTER = PatientMasterKey.generate()
PATIENT, DOCTOR, OTHER = UserKeys.generate(), UserKeys.generate(), UserKeys.generate()
NODE_SKS = [NodeSecretKey.generate() for _ in range(3)]
NODE_IDS = [f"srs-{i}" for i in range(3)]
NODES = [SrsNode(n, k.public_key()) for n, k in zip(NODE_IDS, NODE_SKS, strict=True)]
SIGNERS = {n: SigningKey.generate() for n in NODE_IDS}
NODE_KEYS = {n: k.verify_key for n, k in SIGNERS.items()}
BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {
            "resource": {
                "resourceType": "Observation",
                "id": "o",
                "status": "final",
                "code": {"text": "glucose"},
            }
        },
    ],
}
EXPECTED = {"request_id": "r1", "patient_id": "p1", "record_id": "rec1", "requester_id": "dr"}


@pytest.fixture(scope="module")
def record() -> Any:
    return encrypt_record(
        BUNDLE, patient_id="p1", record_id="rec1", keys=OwnerKeys(MASTER), author=PATIENT.signing
    )


@pytest.fixture(scope="module")
def grant() -> Any:
    return make_grant(
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


def cfrag_item(grant: Any, capsule: str, i: int) -> dict[str, Any]:
    signed = grant.signed.model_dump(mode="json")
    doc = verify_grant(signed)
    ver, dele, recv = doc.keys()
    kfrag = open_sealed_kfrag(
        NODE_SKS[i],
        node_id=NODE_IDS[i],
        grant_id=doc.grant_id,
        sealed_kfrag=grant.sealed_kfrags[NODE_IDS[i]],
        verifying_pk=ver,
        delegating_pk=dele,
        receiving_pk=recv,
    )
    return {
        "segment": "labs",
        "grant_id": doc.grant_id,
        "key_version": 1,
        "cfrag": b64u_encode(reencrypt_verified(KeyCapsule.from_b64(capsule), kfrag)),
        "signed_grant": signed,
        "node_id": NODE_IDS[i],
        "breakglass": False,
    }


def signed_answer(node: str, granted: list[dict[str, Any]], denied: list[Any]) -> dict[str, Any]:
    body = {
        "format": "phr-srs-reencrypt/v1",
        "node_id": node,
        **EXPECTED,
        "issued_at": "2026-01-01T00:00:00Z",
        "granted": granted,
        "denied": denied,
        "breakglass": None,
    }
    return body | {"node_signature": b64u_encode(SIGNERS[node].sign_json(body))}


def access_answer(record: Any, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "request_id": "r1",
        "signed_manifest": record.signed_manifest.model_dump(mode="json"),
        "segments": {"labs": {"url": "http://s3/labs"}},
        "denied": [],
        "node_answers": bodies,
    }


def open_(answer: dict[str, Any], keys: UserKeys = DOCTOR) -> Any:
    return open_access(
        answer,
        requester_id="dr",
        patient_id="p1",
        record_id="rec1",
        node_keys=NODE_KEYS,
        threshold=2,
        receiving={keys.pre.public_key().b64(): keys.pre},
    )


class TestThresholdRule:
    def test_the_larger_threshold_wins(self) -> None:
        assert needed(2, 3) == 3 and needed(3, 2) == 3 and needed(0, 0) == 1


class TestOpenAccess:
    def test_t_honest_cfrags_open_the_segment(self, record: Any, grant: Any) -> None:
        capsule = record.manifest.segment("labs").capsule
        bodies = [
            signed_answer(n, [cfrag_item(grant, capsule, i)], []) for i, n in enumerate(NODE_IDS)
        ]
        opened = open_(access_answer(record, bodies))
        assert set(opened.opened) == {"labs"} and opened.suspicious_nodes == {}
        assert opened.answered_nodes == NODE_IDS and opened.urls == {"labs": "http://s3/labs"}
        assert opened.opened["labs"].secret is not None

    def test_a_forged_cfrag_is_named_and_skipped(self, record: Any, grant: Any) -> None:
        capsule = record.manifest.segment("labs").capsule
        items = [cfrag_item(grant, capsule, i) for i in range(3)]
        other = record.manifest.segment("demographics").capsule
        items[0]["cfrag"] = cfrag_item(grant, other, 0)["cfrag"]  # for another capsule
        bodies = [signed_answer(n, [items[i]], []) for i, n in enumerate(NODE_IDS)]
        opened = open_(access_answer(record, bodies))
        assert "labs" in opened.opened
        assert opened.suspicious_nodes == {"srs-0": "forged cfrag"}
        assert opened.opened["labs"].rejected_nodes == ["srs-0"]

    def test_an_altered_grant_under_a_valid_signature_is_alone(
        self, record: Any, grant: Any
    ) -> None:
        capsule = record.manifest.segment("labs").capsule
        items = [cfrag_item(grant, capsule, i) for i in range(3)]
        liar = copy.deepcopy(items[0])
        liar["signed_grant"]["grant"]["purpose"] = "marketing"
        bodies = [signed_answer("srs-0", [liar], [])] + [
            signed_answer(n, [items[i]], []) for i, n in enumerate(NODE_IDS) if i
        ]
        opened = open_(access_answer(record, bodies))
        assert "labs" in opened.opened
        assert opened.opened["labs"].nodes == ["srs-1", "srs-2"]
        assert opened.suspicious_nodes == {"srs-0": "sent another grant than the threshold's"}

    def test_below_threshold_or_unsigned_answers_open_nothing(
        self, record: Any, grant: Any
    ) -> None:
        capsule = record.manifest.segment("labs").capsule
        one = [signed_answer("srs-0", [cfrag_item(grant, capsule, 0)], [])]
        assert open_(access_answer(record, one)).denied == {"labs": "not enough valid cfrags"}
        unsigned = signed_answer("srs-1", [cfrag_item(grant, capsule, 1)], [])
        unsigned["node_signature"] = one[0]["node_signature"]
        opened = open_(access_answer(record, [*one, unsigned]))
        assert "labs" not in opened.opened and "srs-1" in opened.suspicious_nodes

    def test_another_readers_key_opens_nothing(self, record: Any, grant: Any) -> None:
        capsule = record.manifest.segment("labs").capsule
        bodies = [
            signed_answer(n, [cfrag_item(grant, capsule, i)], []) for i, n in enumerate(NODE_IDS)
        ]
        opened = open_(access_answer(record, bodies), keys=OTHER)
        assert opened.denied["labs"] == "granted to a key this reader does not hold"

    def test_a_manifest_that_does_not_verify_is_refused(self, record: Any) -> None:
        answer = access_answer(record, [])
        answer["signed_manifest"]["manifest"]["record_id"] = "rec2"
        with pytest.raises(AccessIntegrityError):
            open_(answer)
        with pytest.raises(AccessIntegrityError):
            open_({"request_id": "r1", "signed_manifest": None, "node_answers": []})


def item(node: str, grant_id: str = "g1", t: int = 2, version: int = 1) -> dict[str, Any]:
    return {
        "segment": "labs",
        "grant_id": grant_id,
        "key_version": version,
        "cfrag": "c-" + node,
        "signed_grant": {"grant": {"threshold": t, "grant_id": grant_id}, "signature": "s"},
        "node_id": node,
        "breakglass": False,
    }


def plain(node: str, granted: list[Any], denied: list[Any]) -> dict[str, Any]:
    return {"node_id": node, "granted": granted, "denied": denied}


class TestTally:
    """user-api's count: the same grouping and threshold, no secrets."""

    def test_t_nodes_on_one_grant_grant_a_segment(self) -> None:
        answers = {
            "srs-1": plain("srs-1", [item("srs-1")], []),
            "srs-2": plain("srs-2", [item("srs-2")], []),
            "srs-3": plain("srs-3", [], [{"segment": "labs", "reason": "no grant"}]),
        }
        out = tally(answers, ["labs"], 2)
        assert out.granted["labs"].nodes == ("srs-1", "srs-2") and out.denied == []

    def test_fewer_than_t_is_denied_with_the_nodes_reasons(self) -> None:
        answers = {
            "srs-1": plain("srs-1", [item("srs-1")], []),
            "srs-2": plain("srs-2", [], [{"segment": "labs", "reason": "grant revoked"}]),
        }
        out = tally(answers, ["labs"], 2)
        assert out.granted == {}
        assert out.denied == [
            {
                "segment": "labs",
                "reason": "grant revoked",
                "nodes": {"srs-1": "granted", "srs-2": "grant revoked"},
            }
        ]

    def test_cfrags_on_different_grants_do_not_add_up(self) -> None:
        answers = {
            "srs-1": plain("srs-1", [item("srs-1", "g1")], []),
            "srs-2": plain("srs-2", [item("srs-2", "g2")], []),
        }
        assert "labs" not in tally(answers, ["labs"], 2).granted
        assert len(candidates(answers, "labs")) == 2

    def test_a_grant_with_a_higher_threshold_needs_more(self) -> None:
        answers = {n: plain(n, [item(n, t=3)], []) for n in ("srs-1", "srs-2")}
        assert "labs" not in tally(answers, ["labs"], 2).granted

    def test_a_node_cannot_speak_for_another(self) -> None:
        answers = {"srs-1": plain("srs-1", [item("srs-1"), item("srs-2")], [])}
        assert "labs" not in tally(answers, ["labs"], 1 + 1).granted

    def test_cfrags_for_another_key_version_than_the_records_do_not_count(self) -> None:
        answers = {n: plain(n, [item(n, version=1)], []) for n in ("srs-1", "srs-2")}
        assert "labs" in tally(answers, ["labs"], 2, key_versions={"labs": 1}).granted
        assert "labs" not in tally(answers, ["labs"], 2, key_versions={"labs": 2}).granted


class TestVerifiedAnswers:
    def test_unknown_repeated_and_foreign_answers_are_set_aside(self) -> None:
        good = signed_answer("srs-0", [], [])
        stranger = good | {"node_id": "srs-9"}
        other_request = signed_answer("srs-1", [], []) | {"request_id": "r2"}
        answers, suspicious = verified_answers(
            [good, good, stranger, other_request, "junk"], NODE_KEYS, EXPECTED
        )
        assert list(answers) == ["srs-0"]
        assert set(suspicious) == {"srs-0", "srs-9", "srs-1", "?"}

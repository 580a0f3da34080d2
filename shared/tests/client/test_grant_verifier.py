"""The access verifier verifies each distinct signed grant of an access once, and only once."""

from __future__ import annotations

import copy

import pytest

import phr.client.verifier as verifier
from phr.crypto.grants import GrantDocument, sign_grant
from phr.crypto.pre import PreSecretKey
from phr.crypto.signing import SignatureInvalid, SigningKey


def signed_grant() -> dict[str, object]:
    author = SigningKey.generate()
    pk = PreSecretKey.generate().public_key().b64()
    doc = GrantDocument(
        grant_id="g-1/labs/v1",
        patient_id="pat-1",
        grantee_id="doc-1",
        segment="labs",
        key_version=1,
        threshold=2,
        delegating_pk=pk,
        receiving_pk=pk,
        verifying_pk=pk,
        kfrag_sha256={"srs-1": "0" * 64},
        author=author.verify_key.b64(),
    )
    return sign_grant(doc, author).model_dump(mode="json")


def test_equal_copies_are_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = verifier.verify_grant
    monkeypatch.setattr(verifier, "verify_grant", lambda s: calls.append(1) or real(s))
    grants = verifier.GrantVerifier()
    signed = signed_grant()
    docs = [grants.verify(copy.deepcopy(signed)) for _ in range(3)]  # three nodes' copies
    assert len(calls) == 1
    assert docs[0] == docs[1] == docs[2] and docs[0].segment == "labs"


def test_a_changed_copy_with_the_same_signature_is_verified_and_refused() -> None:
    grants = verifier.GrantVerifier()
    signed = signed_grant()
    grants.verify(signed)
    forged = copy.deepcopy(signed)
    forged["grant"]["grantee_id"] = "someone-else"  # type: ignore[index]
    with pytest.raises(SignatureInvalid):
        grants.verify(forged)
    with pytest.raises(TypeError):
        grants.verify("not a grant")

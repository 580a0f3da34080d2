"""System parameters: signed by the KGC, pinned on first use, verified on every fetch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from phr.crypto.signing import SigningKey
from phr.identity.credentials import (
    Credential,
    CredentialInvalid,
    sign_credential,
    verify_credential,
)
from phr.identity.params import (
    ParamsInvalid,
    PublishedKey,
    SrsNode,
    SrsParams,
    SystemParams,
    TokenParams,
    sign_params,
    verify_params,
)


def params(key: SigningKey, issued_at: datetime | None = None, threshold: int = 2) -> SystemParams:
    vk = key.verify_key
    node = SrsNode(id="srs-1", url="http://n1", x25519_public="x", ed25519_public="e")
    return SystemParams(
        issued_at=issued_at or datetime.now(UTC),
        kgc=PublishedKey(ed25519_public=vk.b64(), fingerprint=vk.fingerprint()),
        token=TokenParams(ttl_s=300),
        srs=SrsParams(threshold=threshold, nodes=[node, node.model_copy(update={"id": "srs-2"})]),
        ledger=None,
        services={},
        segments=["demographics", "labs"],
    )


def doc(key: SigningKey, **kw: Any) -> dict[str, Any]:
    return sign_params(params(key, **kw), key).model_dump(mode="json")


def test_first_use_pins_the_kgc_key_and_later_fetches_verify() -> None:
    kgc = SigningKey.generate()
    got, pin = verify_params(doc(kgc), None)
    assert pin.kgc_public == kgc.verify_key.b64()
    assert got.segments == ["demographics", "labs"]
    later, _ = verify_params(doc(kgc, issued_at=datetime.now(UTC) + timedelta(seconds=5)), pin)
    assert later.srs.threshold == 2


def test_another_kgc_key_is_refused_once_pinned() -> None:
    _, pin = verify_params(doc(SigningKey.generate()), None)
    with pytest.raises(ParamsInvalid, match="pinned"):
        verify_params(doc(SigningKey.generate()), pin)


@pytest.mark.parametrize(
    "mutation",
    ["threshold", "segments", "signature", "kgc-fingerprint"],
)
def test_tampered_parameters_are_refused(mutation: str) -> None:
    kgc = SigningKey.generate()
    d = doc(kgc)
    if mutation == "threshold":
        d["params"]["srs"]["threshold"] = 1
    elif mutation == "segments":
        d["params"]["segments"].append("everything")
    elif mutation == "signature":
        d["signature"] = d["signature"][:-4] + "AAAA"
    else:
        d["params"]["kgc"]["fingerprint"] = "00" * 32
    with pytest.raises(ParamsInvalid):
        verify_params(d, None)


def test_an_older_document_is_a_rollback() -> None:
    kgc = SigningKey.generate()
    now = datetime.now(UTC)
    _, pin = verify_params(doc(kgc, issued_at=now), None)
    with pytest.raises(ParamsInvalid, match="rollback"):
        verify_params(doc(kgc, issued_at=now - timedelta(hours=1)), pin)


def test_threshold_above_the_nodes_is_refused() -> None:
    kgc = SigningKey.generate()
    with pytest.raises(ParamsInvalid, match="threshold"):
        verify_params(doc(kgc, threshold=3), None)


def test_signing_requires_the_named_key() -> None:
    with pytest.raises(ValueError):
        sign_params(params(SigningKey.generate()), SigningKey.generate())


def test_credentials_verify_and_expire() -> None:
    kgc = SigningKey.generate()
    cred = Credential(
        user_id="u_1",
        role="doctor",
        organisation_id="org_1",
        ed25519_fingerprint="a" * 64,
        umbral_fingerprint="b" * 64,
        issued_at=100,
        expires_at=200,
    )
    signed = sign_credential(cred, kgc)
    assert verify_credential(signed, kgc.verify_key, now=150) == cred
    with pytest.raises(CredentialInvalid, match="expired"):
        verify_credential(signed, kgc.verify_key, now=250)
    forged = signed.model_copy(update={"credential": cred.model_copy(update={"role": "admin"})})
    with pytest.raises(CredentialInvalid):
        verify_credential(forged, kgc.verify_key, now=150)
    with pytest.raises(CredentialInvalid):
        verify_credential(signed, SigningKey.generate().verify_key, now=150)

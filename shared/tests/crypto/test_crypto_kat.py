"""Known-answer tests from published vectors, run through our wrappers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phr.crypto.canonical import canonical_json
from phr.crypto.errors import IntegrityError, UnsealError
from phr.crypto.primitives import (
    aes256gcm_decrypt,
    aes256gcm_encrypt,
    hkdf_sha256,
    x25519_public,
    x25519_shared,
)
from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())["tests"]
    return tests


# RFC 8785 section 3.2.2.3 (the "numbers/string/literals" example) and ES6 number forms
# from its appendix B.
RFC8785 = [
    (
        {
            "numbers": [333333333.33333329, 1e30, 4.50, 2e-3, 0.000000000000000000000000001],
            "string": "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/",
            "literals": [None, True, False],
        },
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    ),
    ({"b": 1, "a": {"d": [], "c": None}}, '{"a":{"c":null,"d":[]},"b":1}'),
    ([1e21, 1e20, 1e-7, 0.000001, -0.0], "[1e+21,100000000000000000000,1e-7,0.000001,0]"),
]


@pytest.mark.parametrize(("value", "expected"), RFC8785)
def test_rfc8785_canonical_json(value: Any, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


# RFC 5869 appendix A, test cases 1 and 3 (SHA-256).
HKDF = [
    (
        "0b" * 22,
        "000102030405060708090a0b0c",
        "f0f1f2f3f4f5f6f7f8f9",
        42,
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    ),
    (
        "0b" * 22,
        "",
        "",
        42,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
    ),
]


@pytest.mark.parametrize(("ikm", "salt", "info", "length", "okm"), HKDF)
def test_rfc5869_hkdf(ikm: str, salt: str, info: str, length: int, okm: str) -> None:
    out = hkdf_sha256(
        bytes.fromhex(ikm),
        salt=bytes.fromhex(salt) or None,
        info=bytes.fromhex(info),
        length=length,
    )
    assert out.hex() == okm


@pytest.mark.parametrize("tc", load("wycheproof_aes256gcm.json"), ids=lambda t: str(t["tcId"]))
def test_wycheproof_aes256gcm(tc: dict[str, Any]) -> None:
    key, iv, aad = (bytes.fromhex(tc[k]) for k in ("key", "iv", "aad"))
    msg, sealed = bytes.fromhex(tc["msg"]), bytes.fromhex(tc["ct"] + tc["tag"])
    if tc["result"] == "valid":
        assert aes256gcm_encrypt(key, iv, msg, aad) == sealed
        assert aes256gcm_decrypt(key, iv, sealed, aad) == msg
    else:
        with pytest.raises(IntegrityError):
            aes256gcm_decrypt(key, iv, sealed, aad)


@pytest.mark.parametrize("tc", load("x25519.json"), ids=lambda t: str(t["id"]))
def test_x25519(tc: dict[str, Any]) -> None:
    private, public = bytes.fromhex(tc["private"]), bytes.fromhex(tc["public"])
    if "own_public" in tc:
        assert x25519_public(private).hex() == tc["own_public"]
    if tc["result"] == "valid":
        assert x25519_shared(private, public).hex() == tc["shared"]
    else:
        with pytest.raises(UnsealError):
            x25519_shared(private, public)


@pytest.mark.parametrize("tc", load("ed25519.json"), ids=lambda t: str(t["id"]))
def test_ed25519(tc: dict[str, Any]) -> None:
    key = SigningKey.from_seed(bytes.fromhex(tc["seed"]))
    assert key.verify_key.raw.hex() == tc["public"]
    msg, sig = bytes.fromhex(tc["msg"]), bytes.fromhex(tc["sig"])
    vk = VerifyKey(bytes.fromhex(tc["public"]))
    if tc["result"] == "valid":
        assert key.sign(msg) == sig  # Ed25519 is deterministic
        vk.verify(sig, msg)
    else:
        with pytest.raises(SignatureInvalid):
            vk.verify(sig, msg)

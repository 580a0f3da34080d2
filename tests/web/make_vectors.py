"""Golden vectors shared by the Python code and the page's crypto (web/src/crypto).

Run ``python -m tests.web.make_vectors`` to rewrite ``web/test/vectors/*.json`` from the
Python code; ``tests/web/test_web_crypto.py`` checks that the files still hold what the
Python code makes, and ``node --test web/test/`` checks the JS against them. Randomness
is a counter-mode SHA-256 stream, so the deterministic vectors are reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from phr.crypto.canonical import canonical_json
from phr.crypto.export import export_secret_keys
from phr.crypto.keystore import encrypt_keystore
from phr.crypto.signing import SigningKey, b64u_encode
from phr.identity.params import (
    PublishedKey,
    SignedParams,
    SrsNode,
    SrsParams,
    SystemParams,
    TokenParams,
    sign_params,
)
from phr.identity.proofs import login_message
from phr.sdk.identity import enrolment_request
from tests.web import vectors_records as rec
from tests.web.vector_rand import given, material, stream

VECTORS = Path(__file__).resolve().parents[2] / "web" / "test" / "vectors"
SEGMENTS = ["demographics", "labs", "medications", "notes"]


CANONICAL_INPUTS = [
    '{"b": 1, "a": [true, false, null], "c": {"z": "", "y": -0}}',
    '{"numbers": [0, 1, -1, 1.5, 1e21, 1e-7, 123456789012, 9007199254740991, 0.1, 1E2]}',
    '{"\\u00e9": 1, "e": 2, "\\ud83d\\ude00": 3, "\\uffff": 4, "A": 5, "": 6}',
    '"controls \\u0000 \\u001f \\b \\t \\n \\f \\r \\" \\\\ / \\u007f"',
    '"\\u2028 \\u00e9 \\ud83d\\ude00 \\u20ac"',
    '[[], {}, [{}], "nested", {"k": [1, {"j": null}]}]',
    '{"purpose": "phr-login-v1", "user_id": "usr_1", "nonce": "abc"}',
]


def canonical_vectors() -> dict[str, Any]:
    return {
        "cases": [
            {"input_json": text, "canonical": canonical_json(json.loads(text)).decode()}
            for text in CANONICAL_INPUTS
        ]
    }


def base64url_vectors() -> dict[str, Any]:
    raws = [b"", b"\x00", b"\xff\xfe", b"abc", bytes(range(256)), b"\xfb\xff\xbf"]
    return {"cases": [{"hex": r.hex(), "b64u": b64u_encode(r)} for r in raws]}


def keystore_vectors() -> dict[str, Any]:
    cases = []
    for label, patient, passphrase in (
        ("patient", True, "correct horse battery staple"),
        ("doctor", False, "pässphrase ünicode ✓"),
    ):
        km = material(label, patient=patient)
        rand = stream(f"keystore/{label}")
        salt, nonce = rand(16), rand(12)
        doc = encrypt_keystore(km, passphrase, scrypt_n=1024, rand=given(salt, nonce))
        cases.append(
            {
                "material": export_secret_keys(km),
                "passphrase": passphrase,
                "scrypt_n": 1024,
                "salt": b64u_encode(salt),
                "nonce": b64u_encode(nonce),
                "keystore": doc,
            }
        )
    return {"cases": cases}


def keys_vectors() -> dict[str, Any]:
    km = material("patient", patient=True)
    assert km.master is not None
    pub = km.user.public()
    return {
        "material": export_secret_keys(km),
        "user_public": pub.to_json(),
        "segment_public_keys": {
            f"{s}/v{v}": km.master.segment_public_key(s, v).b64() for s in SEGMENTS for v in (1, 2)
        },
        "kfrag_signer_public": km.master.kfrag_signer().public_key().b64(),
        "search_keys": {f"{s}/v1": km.master.search_key(s, 1).hex() for s in SEGMENTS},
        "enrolment": {
            "role": "patient",
            "organisation_id": None,
            "department": None,
            "request": enrolment_request(km.user, "patient"),
        },
        "enrolment_doctor": {
            "role": "doctor",
            "organisation_id": "org_stmary",
            "department": "cardiology",
            "request": enrolment_request(km.user, "doctor", "org_stmary", "cardiology"),
        },
        "login": {
            "user_id": km.user_id,
            "nonce": "n0nce-from-the-kgc",
            "message": login_message(user_id=km.user_id or "", nonce="n0nce-from-the-kgc").decode(),
            "body": {
                "user_id": km.user_id,
                "nonce": "n0nce-from-the-kgc",
                "signature": b64u_encode(
                    km.user.signing.sign(
                        login_message(user_id=km.user_id or "", nonce="n0nce-from-the-kgc")
                    )
                ),
            },
        },
    }


def _published(key: SigningKey, url: str | None = None) -> PublishedKey:
    vk = key.verify_key
    return PublishedKey(ed25519_public=vk.b64(), fingerprint=vk.fingerprint(), url=url)


def signed_params(label: str, issued_at: datetime) -> SignedParams:
    rand = stream(f"params/{label}")
    kgc = SigningKey.from_seed(rand(32))
    nodes = [
        SrsNode(
            id=f"srs-{i}",
            url=f"http://127.0.0.1:{8100 + i}",
            x25519_public=b64u_encode(rand(32)),
            ed25519_public=SigningKey.from_seed(rand(32)).verify_key.b64(),
        )
        for i in range(3)
    ]
    params = SystemParams(
        issued_at=issued_at,
        kgc=_published(kgc, "http://127.0.0.1:8000"),
        token=TokenParams(ttl_s=900),
        srs=SrsParams(threshold=2, nodes=nodes),
        ledger=_published(SigningKey.from_seed(rand(32))),
        services={"owner-api": _published(SigningKey.from_seed(rand(32)))},
        segments=SEGMENTS,
    )
    return sign_params(params, kgc)


def params_vectors() -> dict[str, Any]:
    old = signed_params("kgc", datetime(2026, 12, 1, 8, 0, 0, 123456, tzinfo=UTC))
    new = signed_params("kgc", datetime(2026, 12, 2, 9, 30, 0, tzinfo=UTC))
    other = signed_params("other-kgc", datetime(2026, 12, 3, 9, 30, 0, tzinfo=UTC))
    tampered = new.model_dump(mode="json")
    tampered["params"]["srs"]["threshold"] = 1
    pin_new = {"kgc_public": new.params.kgc.ed25519_public, "issued_at": "2026-12-02T09:30:00Z"}
    return {
        "documents": {
            "old": old.model_dump(mode="json"),
            "new": new.model_dump(mode="json"),
            "other_kgc": other.model_dump(mode="json"),
            "tampered": tampered,
        },
        "cases": [
            {"document": "new", "pin": None, "ok": True, "pin_after": pin_new},
            {"document": "new", "pin": pin_new, "ok": True, "pin_after": pin_new},
            {
                "document": "new",
                "pin": {"kgc_public": pin_new["kgc_public"], "issued_at": None},
                "ok": True,
                "pin_after": pin_new,
            },
            {"document": "old", "pin": pin_new, "ok": False, "error": "rollback"},
            {"document": "other_kgc", "pin": pin_new, "ok": False, "error": "another KGC key"},
            {"document": "tampered", "pin": None, "ok": False, "error": "bad signature"},
            {"document": "tampered", "pin": pin_new, "ok": False, "error": "bad signature"},
        ],
    }


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "base64url": base64url_vectors,
    "canonical": canonical_vectors,
    "keystore": keystore_vectors,
    "keys": keys_vectors,
    "params": params_vectors,
    "fhir": rec.fhir_vectors,
    "search": rec.search_vectors,
    "stream": rec.stream_vectors,
    "seal": rec.seal_vectors,
    "record": rec.record_vectors,
    "grant": rec.grant_vectors,
    "ledger": rec.ledger_vectors,
}


#: made with Umbral's own randomness (capsules, kfrags): checked by verification, not equality
RANDOMISED = frozenset({"record", "grant"})


def render(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    VECTORS.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (VECTORS / f"{name}.json").write_text(render(build()), encoding="utf-8")
        print(f"wrote {VECTORS / name}.json")  # noqa: T201


if __name__ == "__main__":
    main()

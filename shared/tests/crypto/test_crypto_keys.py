"""Key derivation, keystore file, key export and traitor-tracing fingerprints."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from phr.crypto.errors import KeystoreError, WrongPassphrase
from phr.crypto.export import (
    KeyMaterial,
    export_secret_keys,
    import_secret_keys,
    public_keys_from_secret,
)
from phr.crypto.keys import PatientMasterKey, UserKeys
from phr.crypto.keystore import decrypt_keystore, encrypt_keystore, load_keystore, save_keystore
from phr.crypto.pre import PreSecretKey
from phr.crypto.segment_secret import SegmentSecret
from phr.crypto.signing import SigningKey

SEED = bytes(range(32))


def material() -> KeyMaterial:
    user = UserKeys(PreSecretKey.derive(b"\x05" * 32, b"user"), SigningKey.from_seed(b"\x06" * 32))
    return KeyMaterial(user=user, master=PatientMasterKey(SEED), user_id="patient-1")


def test_segment_keys_are_deterministic_and_distinct() -> None:
    a, b = PatientMasterKey(SEED), PatientMasterKey(SEED)
    assert a.segment_public_key("labs", 1) == b.segment_public_key("labs", 1)
    pks = {
        a.segment_public_key(s, v).raw for s in ("labs", "insurance", "notes") for v in (1, 2, 3)
    }
    assert len(pks) == 9
    assert a.search_key("labs", 1) != a.search_key("labs", 2)
    assert len(a.search_key("labs", 1)) == 32
    assert a.kfrag_signer().public_key() not in {a.segment_public_key("labs", 1)}
    with pytest.raises(ValueError):
        a.segment_public_key("labs", 0)
    with pytest.raises(ValueError):
        a.segment_public_key("a/b", 1)


def test_secrets_never_appear_in_repr() -> None:
    m = material()
    secret = SegmentSecret(b"\x11" * 32, b"\x22" * 32)
    for obj, raw in [
        (m.master, SEED),
        (m.user, m.user.pre.to_bytes()),
        (m.user.pre, m.user.pre.to_bytes()),
        (m, SEED),
        (secret, secret.data_key),
    ]:
        text = repr(obj) + str(obj)
        assert "<secret>" in text
        for enc in (raw.hex(), raw.hex().upper(), repr(raw)):
            assert enc not in text


def test_keystore_round_trip_permissions_and_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    save_keystore(path, material(), "correct horse", scrypt_n=1 << 10)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_keystore(path, "correct horse")
    assert export_secret_keys(loaded) == export_secret_keys(material())
    assert "correct" not in path.read_text() and SEED.hex() not in path.read_text()
    with pytest.raises(WrongPassphrase):
        load_keystore(path, "wrong")
    doc = json.loads(path.read_text())
    doc["kdf"]["n"] = 1 << 11  # parameters are authenticated
    with pytest.raises(WrongPassphrase):
        decrypt_keystore(doc, "correct horse")
    doc["kdf"]["n"] = 1 << 30
    with pytest.raises(KeystoreError):
        decrypt_keystore(doc, "correct horse")
    with pytest.raises(KeystoreError):
        load_keystore(tmp_path / "missing.json", "x")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_keystore_golden(golden: Callable[[str, bytes], None]) -> None:
    doc = encrypt_keystore(material(), "pass", scrypt_n=1 << 10, rand=lambda n: b"\x09" * n)
    golden("keystore_v1.json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode())
    assert export_secret_keys(decrypt_keystore(doc, "pass"))["user_id"] == "patient-1"


def test_export_import_and_fingerprints() -> None:
    m = material()
    exported = export_secret_keys(m)
    back = import_secret_keys(json.dumps(exported))
    assert export_secret_keys(back) == exported
    fps = {f.kind: f for f in public_keys_from_secret(exported)}
    assert fps["pre"].public_b64 == m.user.pre.public_key().b64()
    assert fps["ed25519"].fingerprint == m.user.signing.verify_key.fingerprint()
    assert (
        fps["kfrag-signer"].public_b64 == PatientMasterKey(SEED).kfrag_signer().public_key().b64()
    )
    # A leaked raw key: every reading is offered, the right one among them.
    raw_pre = {f.public_b64 for f in public_keys_from_secret(m.user.pre.to_bytes())}
    assert m.user.pre.public_key().b64() in raw_pre
    raw_ed = {f.public_b64 for f in public_keys_from_secret(m.user.signing.seed_b64())}
    assert m.user.signing.verify_key.b64() in raw_ed
    for bad in (
        {"format": "x"},
        {**exported, "version": 9},
        {**exported, "pre_sk": "!!"},
        b"\x00" * 5,
    ):
        with pytest.raises(KeystoreError):
            public_keys_from_secret(bad)


def test_user_keys_generate_distinct() -> None:
    a, b = UserKeys.generate(), UserKeys.generate()
    assert a.public() != b.public()
    assert set(a.public().to_json()) == {"pre_pk", "verify_key"}

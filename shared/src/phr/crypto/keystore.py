"""Passphrase-encrypted keystore file (scrypt + AES-256-GCM), written with mode 0600.

File format (JSON, version 1)::

    {"format": "phr-keystore", "version": 1,
     "kdf": {"alg": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": b64u (16 B)},
     "aead": {"alg": "AES-256-GCM", "nonce": b64u (12 B)},
     "ciphertext": b64u}

The plaintext is the key export of ``phr.crypto.export``; the AAD is the RFC 8785
JSON of every field but ``ciphertext``, so the KDF parameters cannot be swapped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from phr.crypto.canonical import canonical_json
from phr.crypto.errors import IntegrityError, KeystoreError, WrongPassphrase
from phr.crypto.export import KeyMaterial, export_secret_keys, import_secret_keys
from phr.crypto.primitives import aes256gcm_decrypt, aes256gcm_encrypt
from phr.crypto.segment_secret import RandomBytes
from phr.crypto.signing import b64u_decode, b64u_encode

KEYSTORE_FORMAT = "phr-keystore"
DEFAULT_SCRYPT_N = 1 << 15  # about 0.1 s and 32 MiB; OWASP's interactive floor
_MAX_SCRYPT_N = 1 << 20


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def encrypt_keystore(
    material: KeyMaterial,
    passphrase: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    rand: RandomBytes = os.urandom,
) -> dict[str, Any]:
    """The keystore document for ``material`` (``rand`` is injectable for golden tests)."""
    head: dict[str, Any] = {
        "format": KEYSTORE_FORMAT,
        "version": 1,
        "kdf": {"alg": "scrypt", "n": scrypt_n, "r": 8, "p": 1, "salt": b64u_encode(rand(16))},
        "aead": {"alg": "AES-256-GCM", "nonce": b64u_encode(rand(12))},
    }
    key = _derive(passphrase, b64u_decode(head["kdf"]["salt"]), scrypt_n, 8, 1)
    plaintext = canonical_json(export_secret_keys(material))
    ct = aes256gcm_encrypt(key, b64u_decode(head["aead"]["nonce"]), plaintext, canonical_json(head))
    return {**head, "ciphertext": b64u_encode(ct)}


def decrypt_keystore(doc: dict[str, Any], passphrase: str) -> KeyMaterial:
    try:
        head = {k: doc[k] for k in ("format", "version", "kdf", "aead")}
        kdf, aead = head["kdf"], head["aead"]
        ok = (
            head["format"] == KEYSTORE_FORMAT
            and head["version"] == 1
            and kdf["alg"] == "scrypt"
            and aead["alg"] == "AES-256-GCM"
            and 2 <= kdf["n"] <= _MAX_SCRYPT_N
            and kdf["r"] * kdf["p"] <= 64
        )
        if not ok:
            raise KeystoreError("unsupported keystore format or parameters")
        key = _derive(passphrase, b64u_decode(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
        nonce, ct = b64u_decode(aead["nonce"]), b64u_decode(doc["ciphertext"])
    except (KeyError, TypeError, ValueError) as exc:
        raise KeystoreError("malformed keystore") from exc
    try:
        plaintext = aes256gcm_decrypt(key, nonce, ct, canonical_json(head))
    except IntegrityError as exc:
        raise WrongPassphrase("wrong passphrase or tampered keystore") from exc
    return import_secret_keys(plaintext)


def save_keystore(
    path: Path | str,
    material: KeyMaterial,
    passphrase: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
) -> None:
    """Write atomically; the file is created 0600 and never exists with wider permissions."""
    path = Path(path)
    data = json.dumps(encrypt_keystore(material, passphrase, scrypt_n=scrypt_n), indent=2)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_keystore(path: Path | str, passphrase: str) -> KeyMaterial:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeystoreError(f"cannot read keystore {path}") from exc
    if not isinstance(doc, dict):
        raise KeystoreError("malformed keystore")
    return decrypt_keystore(doc, passphrase)

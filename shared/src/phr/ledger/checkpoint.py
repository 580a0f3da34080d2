"""C2SP tlog-checkpoint signed notes (https://c2sp.org/tlog-checkpoint, /signed-note).

A checkpoint's body is three lines: the origin, the tree size in decimal and the
standard base64 root hash. The note adds a blank line and one signature line per
signer: ``— <name> <base64(key_id || signature)>``, where the key id is the first four
bytes of SHA-256(name || 0x0A || 0x01 || public key) for Ed25519 (signature type 0x01),
and the signature covers the body including its final newline. Witnesses cosign the same
body by appending their own lines; lines of keys we do not know are ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from phr.crypto.signing import SignatureInvalid, SigningKey, VerifyKey

ED25519_TYPE = b"\x01"
_DASH = "\u2014"


class CheckpointInvalid(Exception):
    """Not a well-formed checkpoint, or no valid signature by the expected key."""


def key_id(name: str, key: VerifyKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519_TYPE + key.raw).digest()[:4]


def vkey(name: str, key: VerifyKey) -> str:
    """The signed-note verifier key string ``<name>+<hex id>+<base64(type || key)>``."""
    return f"{name}+{key_id(name, key).hex()}+{base64.b64encode(ED25519_TYPE + key.raw).decode()}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"

    def sign(self, name: str, key: SigningKey) -> str:
        """The signed note text."""
        body = self.body()
        sig = key.sign(body.encode())
        kid = key_id(name, key.verify_key)
        return f"{body}\n{_DASH} {name} {base64.b64encode(kid + sig).decode()}\n"


def parse_checkpoint(note: str, name: str, key: VerifyKey) -> Checkpoint:
    """Parse a signed note and require a valid signature by ``(name, key)``."""
    body, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise CheckpointInvalid("a signed note is a body, a blank line and signature lines")
    body += "\n"
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointInvalid("a checkpoint body has origin, size and root lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise CheckpointInvalid("bad origin or size line")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise CheckpointInvalid("root hash is not base64") from exc
    if len(root_hash) != 32:
        raise CheckpointInvalid("root hash is not 32 bytes")
    want = key_id(name, key)
    for line in sigs[:-1].split("\n"):
        prefix = f"{_DASH} {name} "
        if not line.startswith(prefix):
            continue
        try:
            blob = base64.b64decode(line[len(prefix) :], validate=True)
        except binascii.Error:
            continue
        if len(blob) != 4 + 64 or blob[:4] != want:
            continue
        try:
            key.verify(blob[4:], body.encode())
        except SignatureInvalid as exc:
            raise CheckpointInvalid("checkpoint signature does not verify") from exc
        return Checkpoint(origin, int(size_text), root_hash)
    raise CheckpointInvalid(f"no signature by {name} on the checkpoint")

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
import re
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


#: Go's note.Open refuses more; C2SP asks verifiers to accept at least 16.
MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]*")


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The note text and its (name, key id || signature) lines, by c2sp.org/signed-note."""
    if any((c < " " and c != "\n") or c == "\x7f" or "\ud800" <= c <= "\udfff" for c in note):
        raise CheckpointInvalid("a note holds no control characters but newlines")
    # The text ends at the LAST blank line: the text itself may hold empty lines.
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointInvalid("a signed note is a text, a blank line and signature lines")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointInvalid("a signed note ends with signature lines")
    sigs: list[tuple[str, bytes]] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(_DASH + " "):
            raise CheckpointInvalid("a signature line starts with an em dash and a space")
        name, _, b64 = line[2:].partition(" ")
        if not name or "+" in name or any(c.isspace() for c in name):
            raise CheckpointInvalid("a key name is non-empty, without spaces or plus signs")
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CheckpointInvalid("a signature is standard base64") from exc
        if len(blob) < 5:
            raise CheckpointInvalid("a signature is a key id and at least one byte")
        sigs.append((name, blob))
        if len(sigs) > MAX_SIGNATURES:
            raise CheckpointInvalid(f"more than {MAX_SIGNATURES} signatures on a note")
    return text, sigs


def _parse_body(text: str) -> Checkpoint:
    """c2sp.org/tlog-checkpoint: origin, size, root hash, then non-empty extension lines."""
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckpointInvalid("a checkpoint body is at least three non-empty lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    # ASCII decimal, no leading zeros, a uint64 (str.isdigit would admit "²" and "١").
    if not _SIZE.fullmatch(size_text) or int(size_text) >= 1 << 64:
        raise CheckpointInvalid("the size line is a uint64 in ASCII decimal, no leading zeros")
    try:
        root_hash = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointInvalid("root hash is not base64") from exc
    if len(root_hash) != 32 or base64.b64encode(root_hash).decode() != root_text:
        raise CheckpointInvalid("root hash is not the base64 of 32 bytes")
    return Checkpoint(origin, int(size_text), root_hash)


def parse_checkpoint(note: str, name: str, key: VerifyKey) -> Checkpoint:
    """Parse a signed note and require a valid signature by ``(name, key)``.

    Signatures of other keys (witnesses' cosignatures) are ignored, as C2SP requires;
    a signature whose name and key id are ours must verify, or the note is refused.
    Raises only :class:`CheckpointInvalid`.
    """
    if not isinstance(note, str):
        raise CheckpointInvalid("a signed note is text")
    text, sigs = _split_note(note)
    want = key_id(name, key)
    verified = False
    for signer, blob in sigs:
        if signer != name or blob[:4] != want:
            continue
        try:
            key.verify(blob[4:], text.encode())
        except (SignatureInvalid, ValueError) as exc:
            raise CheckpointInvalid("checkpoint signature does not verify") from exc
        verified = True
    if not verified:
        raise CheckpointInvalid(f"no signature by {name} on the checkpoint")
    return _parse_body(text)

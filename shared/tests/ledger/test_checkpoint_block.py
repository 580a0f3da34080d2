"""Block header bytes and C2SP checkpoint notes: round trips and tamper detection."""

from __future__ import annotations

import base64

import pytest

from phr.crypto.signing import SigningKey
from phr.ledger.block import HEADER_SIZE, BlockHeader, BlockInvalid
from phr.ledger.checkpoint import Checkpoint, CheckpointInvalid, key_id, parse_checkpoint

KEY = SigningKey.from_seed(bytes(range(32)))
HEADER = BlockHeader(3, b"\x01" * 32, b"\x02" * 32, 7, 40, b"\x03" * 32, 1_700_000_000, 10, 18)


def test_header_bytes_round_trip_and_are_versioned() -> None:
    raw = HEADER.to_bytes()
    assert len(raw) == HEADER_SIZE and raw.startswith(b"PHR-LEDGER-BLOCK\x01")
    assert BlockHeader.from_bytes(raw) == HEADER
    assert BlockHeader.from_json(HEADER.to_json()) == HEADER
    with pytest.raises(BlockInvalid):
        BlockHeader.from_bytes(raw[:16] + b"\x02" + raw[17:])
    with pytest.raises(BlockInvalid):
        BlockHeader.from_bytes(raw[:-1])


def test_checkpoint_note_format() -> None:
    cp = Checkpoint("example.com/log", 40, b"\x03" * 32)
    note = cp.sign("example.com/log", KEY)
    body, sig = note.split("\n\n")
    assert body + "\n" == "example.com/log\n40\n" + base64.b64encode(b"\x03" * 32).decode() + "\n"
    assert sig.startswith("\u2014 example.com/log ") and sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    assert blob[:4] == key_id("example.com/log", KEY.verify_key) and len(blob) == 68
    assert parse_checkpoint(note, "example.com/log", KEY.verify_key) == cp
    # A witness's cosignature line of another key is ignored.
    cosigned = note + "\u2014 witness.example AAAA" + "\n"
    assert parse_checkpoint(cosigned, "example.com/log", KEY.verify_key) == cp


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("\n40\n", "\n41\n"),
        lambda n: n.replace("example.com/log\n", "example.com/lag\n", 1),
        lambda n: n.replace("\n\n", "\n"),
        lambda n: n[:-3] + ("A" if n[-3] != "A" else "B") + n[-2:],
    ],
    ids=["size", "origin", "no-blank-line", "signature"],
)
def test_tampered_checkpoint_fails(mutate: object) -> None:
    note = Checkpoint("example.com/log", 40, b"\x03" * 32).sign("example.com/log", KEY)
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(mutate(note), "example.com/log", KEY.verify_key)  # type: ignore[operator]


def test_other_key_fails() -> None:
    note = Checkpoint("o", 1, b"\x00" * 32).sign("o", KEY)
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(note, "o", SigningKey.generate().verify_key)

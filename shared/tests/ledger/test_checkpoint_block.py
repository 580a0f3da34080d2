"""Block header bytes and C2SP checkpoint notes: round trips and tamper detection."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    witness = base64.b64encode(b"\x01\x02\x03\x04" + bytes(64)).decode()
    cosigned = note + f"\u2014 witness.example {witness}\n"
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


GOOD = Checkpoint("example.com/log", 40, b"\x03" * 32)


def _signed(body: str) -> str:
    """A note over an arbitrary body, correctly signed by KEY as example.com/log."""
    sig = KEY.sign(body.encode())
    kid = key_id("example.com/log", KEY.verify_key)
    return f"{body}\n\u2014 example.com/log {base64.b64encode(kid + sig).decode()}\n"


ROOT64 = base64.b64encode(b"\x03" * 32).decode()


@pytest.mark.parametrize(
    "body",
    [
        f"example.com/log\n\u0664\u0660\n{ROOT64}\n",  # Arabic-Indic digits
        f"example.com/log\n\u00b2\n{ROOT64}\n",  # a superscript two: isdigit() but not int()
        f"example.com/log\n040\n{ROOT64}\n",  # leading zero
        f"example.com/log\n{1 << 64}\n{ROOT64}\n",  # beyond uint64
        f"example.com/log\n-1\n{ROOT64}\n",
        f"example.com/log\n40\n{ROOT64[:-1]}\n",  # unpadded base64
        f"example.com/log\n40\n{base64.b64encode(bytes(31)).decode()}\n",  # 31-byte root
        f"example.com/log\n40\n{ROOT64}\n\nextension\n",  # an empty extension line
        f"\n40\n{ROOT64}\n",  # empty origin
        "example.com/log\n40\n",  # no root line
    ],
    ids=[
        "arabic-digits",
        "superscript",
        "leading-zero",
        "uint64",
        "negative",
        "unpadded",
        "short-root",
        "empty-extension",
        "empty-origin",
        "two-lines",
    ],
)
def test_checkpoint_bodies_c2sp_refuses(body: str) -> None:
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(_signed(body), "example.com/log", KEY.verify_key)


def test_text_ends_at_the_last_blank_line_and_extensions_are_kept_out() -> None:
    # An extension line is allowed; the checkpoint is still origin, size and root.
    note = _signed(GOOD.body() + "ext-line\n")
    assert parse_checkpoint(note, "example.com/log", KEY.verify_key) == GOOD


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n + "not a signature line\n",
        lambda n: n + "\u2014 witness.example !!!!\n",  # not base64
        lambda n: n + "\u2014 witness.example AAAA\n",  # three bytes: no key id and signature
        lambda n: n + "\u2014 wit+ness AAAAAAA=\n",  # plus sign in the key name
        lambda n: n + "\u2014  AAAAAAA=\n",  # empty key name
        lambda n: n.replace("example.com/log\n40", "example.com/log\x1b[2J\n40", 1),
        lambda n: n[:-1],  # no final newline
        lambda n: n + "\u2014 w " + base64.b64encode(bytes(68)).decode() + "\n" * 2,
    ],
    ids=[
        "garbage-line",
        "bad-base64",
        "short-signature",
        "plus-in-name",
        "empty-name",
        "control-char",
        "no-final-newline",
        "trailing-blank-line",
    ],
)
def test_malformed_notes_are_refused_not_skipped(mutate: object) -> None:
    note = GOOD.sign("example.com/log", KEY)
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(mutate(note), "example.com/log", KEY.verify_key)  # type: ignore[operator]


def test_a_failing_signature_of_our_key_refuses_the_note_even_beside_a_good_one() -> None:
    note = GOOD.sign("example.com/log", KEY)
    kid = key_id("example.com/log", KEY.verify_key)
    forged = base64.b64encode(kid + bytes(64)).decode()
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(
            note + f"\u2014 example.com/log {forged}\n", "example.com/log", KEY.verify_key
        )


def test_too_many_signatures_are_refused() -> None:
    note = GOOD.sign("example.com/log", KEY)
    other = "\u2014 w.example " + base64.b64encode(b"\x09" * 68).decode() + "\n"
    assert parse_checkpoint(note + other * 15, "example.com/log", KEY.verify_key) == GOOD
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint(note + other * 100, "example.com/log", KEY.verify_key)


@given(st.text(max_size=300))
def test_any_text_raises_only_checkpoint_invalid(text: str) -> None:
    try:
        parse_checkpoint(text, "example.com/log", KEY.verify_key)
    except CheckpointInvalid:
        pass


@given(st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_any_mutated_note_raises_only_checkpoint_invalid(junk: str) -> None:
    note = GOOD.sign("example.com/log", KEY)
    try:
        parse_checkpoint(note[:20] + junk + note[20:], "example.com/log", KEY.verify_key)
    except CheckpointInvalid:
        pass

"""Chunked segment encryption: round trips, tamper properties, the header golden file."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phr.crypto.errors import (
    ChunkAuthError,
    CryptoError,
    DigestMismatch,
    FormatError,
    IntegrityError,
    TrailingData,
    TruncatedStream,
)
from phr.crypto.stream import (
    HEADER_SIZE,
    TAG_SIZE,
    SegmentContext,
    SegmentDecryptor,
    SegmentEncryptor,
    StreamHeader,
    decrypt_segment_bytes,
    encrypt_segment_bytes,
)

KEY = bytes(range(32))
CTX = SegmentContext("patient-1", "record-1", "labs", 1)
CS = 16  # small chunks so that short inputs span many chunks
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def chunks_of(ct: bytes, cs: int = CS) -> tuple[bytes, list[bytes]]:
    body = ct[HEADER_SIZE:]
    step = cs + TAG_SIZE
    return ct[:HEADER_SIZE], [body[i : i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 64, 1000])
@pytest.mark.parametrize("chunk_size", [1, 16, 1 << 20])
def test_round_trip_sizes(size: int, chunk_size: int) -> None:
    data = os.urandom(size)
    ct, digest = encrypt_segment_bytes(KEY, CTX, data, chunk_size=chunk_size)
    n_chunks = max(1, -(-size // chunk_size))
    assert len(ct) == HEADER_SIZE + size + n_chunks * TAG_SIZE
    assert decrypt_segment_bytes(KEY, CTX, ct, expected_sha256=digest) == data


def test_sources_file_iterable_and_odd_pieces() -> None:
    data = os.urandom(5000)
    ref, _ = encrypt_segment_bytes(KEY, CTX, data, chunk_size=100, rand=lambda n: b"\x07" * n)
    sources: list[object] = [
        io.BytesIO(data),
        [data[i : i + 7] for i in range(0, len(data), 7)],
        [bytearray(data[:3000]), memoryview(data)[3000:]],
        iter([b"", data, b""]),
    ]
    for source in sources:
        enc = SegmentEncryptor(KEY, CTX, source, chunk_size=100, rand=lambda n: b"\x07" * n)  # type: ignore[arg-type]
        assert b"".join(enc) == ref
    dec = SegmentDecryptor(KEY, CTX, io.BytesIO(ref))
    assert b"".join(dec) == data
    pieces = [ref[i : i + 13] for i in range(0, len(ref), 13)]
    assert b"".join(SegmentDecryptor(KEY, CTX, pieces)) == data


def test_sha256_computed_in_the_same_pass() -> None:
    import hashlib

    enc = SegmentEncryptor(KEY, CTX, [b"x" * 1000], chunk_size=64)
    with pytest.raises(RuntimeError):
        _ = enc.sha256
    ct = b"".join(enc)
    assert enc.sha256 == hashlib.sha256(ct).digest()
    assert enc.size == len(ct) and enc.plaintext_size == 1000
    dec = SegmentDecryptor(KEY, CTX, [ct])
    b"".join(dec)
    assert dec.sha256 == enc.sha256
    with pytest.raises(DigestMismatch):
        decrypt_segment_bytes(KEY, CTX, ct, expected_sha256=b"\x00" * 32)


def test_header_golden(golden: Callable[[str, bytes], None]) -> None:
    ct, _ = encrypt_segment_bytes(
        bytes(32), CTX, b"PHR golden segment", chunk_size=8, rand=lambda n: bytes(range(n))
    )
    golden("segment_v1.bin", ct)
    header = StreamHeader.parse(ct)
    assert ct[:4] == b"PHRS" and ct[4] == 1 and header.chunk_size == 8


@FAST
@given(data=st.binary(min_size=1, max_size=200), bit=st.integers(min_value=0))
def test_any_bit_flip_fails(data: bytes, bit: int) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, data, chunk_size=CS)
    bit %= len(ct) * 8
    bad = bytearray(ct)
    bad[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises((IntegrityError, FormatError)):
        decrypt_segment_bytes(KEY, CTX, bytes(bad))


@FAST
@given(data=st.binary(min_size=0, max_size=200), cut=st.integers(min_value=1))
def test_any_truncation_fails(data: bytes, cut: int) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, data, chunk_size=CS)
    keep = len(ct) - 1 - (cut % len(ct))
    with pytest.raises(CryptoError):
        decrypt_segment_bytes(KEY, CTX, ct[:keep])


def test_truncation_at_chunk_boundary_is_named() -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, b"a" * 64, chunk_size=CS)
    header, chunks = chunks_of(ct)
    with pytest.raises(TruncatedStream):
        decrypt_segment_bytes(KEY, CTX, header + b"".join(chunks[:-1]))
    with pytest.raises(TruncatedStream):
        decrypt_segment_bytes(KEY, CTX, header)
    with pytest.raises(TruncatedStream):
        decrypt_segment_bytes(KEY, CTX, ct[:10])
    with pytest.raises(TrailingData):
        decrypt_segment_bytes(KEY, CTX, ct + chunks[0])


@FAST
@given(size=st.integers(min_value=CS * 2 + 1, max_value=CS * 8), data=st.data())
def test_reordered_chunks_fail(size: int, data: st.DataObject) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, os.urandom(size), chunk_size=CS)
    header, chunks = chunks_of(ct)
    order = data.draw(st.permutations(range(len(chunks))).filter(lambda o: o != sorted(o)))
    with pytest.raises(ChunkAuthError):
        decrypt_segment_bytes(KEY, CTX, header + b"".join(chunks[i] for i in order))


@FAST
@given(size=st.integers(min_value=CS * 2 + 1, max_value=CS * 8), which=st.integers(min_value=0))
def test_dropped_or_duplicated_chunk_fails(size: int, which: int) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, os.urandom(size), chunk_size=CS)
    header, chunks = chunks_of(ct)
    i = which % len(chunks)
    dropped = chunks[:i] + chunks[i + 1 :]
    duplicated = chunks[: i + 1] + [chunks[i]] + chunks[i + 1 :]
    with pytest.raises(IntegrityError):
        decrypt_segment_bytes(KEY, CTX, header + b"".join(dropped))
    with pytest.raises(IntegrityError):
        decrypt_segment_bytes(KEY, CTX, header + b"".join(duplicated))


@pytest.mark.parametrize(
    "other",
    [
        SegmentContext("patient-2", "record-1", "labs", 1),
        SegmentContext("patient-1", "record-2", "labs", 1),
        SegmentContext("patient-1", "record-1", "insurance", 1),
        SegmentContext("patient-1", "record-1", "labs", 2),
    ],
    ids=["patient", "record", "segment", "version"],
)
def test_wrong_context_fails(other: SegmentContext) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, b"x" * 40, chunk_size=CS)
    with pytest.raises(ChunkAuthError):
        decrypt_segment_bytes(KEY, other, ct)


@FAST
@given(key=st.binary(min_size=32, max_size=32))
def test_wrong_key_fails(key: bytes) -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, b"x" * 40, chunk_size=CS)
    if key != KEY:
        with pytest.raises(ChunkAuthError):
            decrypt_segment_bytes(key, CTX, ct)


def test_bad_headers_are_format_errors() -> None:
    ct, _ = encrypt_segment_bytes(KEY, CTX, b"x", chunk_size=CS)
    for pos, value in [(0, ord("X")), (4, 2), (5, 9), (6, 9), (7, 1)]:
        bad = bytearray(ct)
        bad[pos] = value
        with pytest.raises(FormatError):
            decrypt_segment_bytes(KEY, CTX, bytes(bad))
    huge = bytearray(ct)
    huge[8:12] = (1 << 31).to_bytes(4, "big")
    with pytest.raises(FormatError):
        decrypt_segment_bytes(KEY, CTX, bytes(huge))


def test_memory_stays_bounded_for_a_long_stream() -> None:
    """64 MiB through 1 MiB chunks: never more than two chunks held at once."""
    block = os.urandom(1 << 20)
    enc = SegmentEncryptor(KEY, CTX, (block for _ in range(64)))
    total = sum(len(c) for c in enc)
    assert total == HEADER_SIZE + 64 * ((1 << 20) + TAG_SIZE)

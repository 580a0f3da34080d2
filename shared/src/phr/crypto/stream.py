"""Chunked AES-256-GCM segment encryption (format ``PHRS`` version 1).

Layout::

    header  = "PHRS" | version u8 (=1) | aead u8 (=1: AES-256-GCM)
            | digest u8 (=1: SHA-256 of the whole ciphertext) | reserved u8 (=0)
            | chunk_size u32 BE | nonce_prefix 7 bytes                     (19 bytes)
    chunk_i = AES-256-GCM(data_key, nonce_i, plaintext_i, aad)              (len + 16 bytes)
    nonce_i = nonce_prefix | i u32 BE | final u8 (1 on the last chunk, else 0)
    aad     = header | RFC 8785 JSON of {fmt, patient_id, record_id, segment, key_version}

This is the STREAM construction (Hoang et al. 2015, as in Tink and age): the chunk
index and the final flag sit in the nonce, so a chunk authenticates only at its own
position and only the real last chunk authenticates as final. Reordering, dropping,
duplicating or truncating chunks therefore fails, and the header and the record
context are bound to every chunk. Every chunk but the last holds exactly
``chunk_size`` plaintext bytes; an empty segment is one empty final chunk.

Decryption yields each chunk's plaintext once that chunk authenticates; a truncated
stream is only detected at the end, so act on plaintext only after the iterator is
exhausted (``decrypt_segment_bytes`` does that). SHA-256 of the ciphertext is
computed in the same pass as encryption and decryption.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phr.crypto.canonical import canonical_json
from phr.crypto.errors import (
    ChunkAuthError,
    DigestMismatch,
    FormatError,
    TrailingData,
    TruncatedStream,
)
from phr.crypto.segment_secret import RandomBytes

MAGIC: Final = b"PHRS"
FORMAT_VERSION: Final = 1
AEAD_AES256GCM: Final = 1
DIGEST_SHA256: Final = 1
HEADER_SIZE: Final = 19
TAG_SIZE: Final = 16
NONCE_PREFIX_SIZE: Final = 7
DEFAULT_CHUNK_SIZE: Final = 1 << 20
MAX_CHUNK_SIZE: Final = 1 << 26  # bounds a reader's memory whatever the header says
_HEADER = struct.Struct(">4sBBBBI7s")
_FINAL, _NOT_FINAL = b"\x01", b"\x00"

Buffer = bytes | bytearray | memoryview
ByteSource = Iterable[Buffer] | BinaryIO


@dataclass(frozen=True)
class SegmentContext:
    """What a segment ciphertext is bound to; any difference makes decryption fail."""

    patient_id: str
    record_id: str
    segment: str
    key_version: int

    def aad(self) -> bytes:
        return canonical_json(
            {
                "fmt": "phr-segment-aad/v1",
                "patient_id": self.patient_id,
                "record_id": self.record_id,
                "segment": self.segment,
                "key_version": self.key_version,
            }
        )


@dataclass(frozen=True)
class StreamHeader:
    chunk_size: int
    nonce_prefix: bytes

    def to_bytes(self) -> bytes:
        return _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            AEAD_AES256GCM,
            DIGEST_SHA256,
            0,
            self.chunk_size,
            self.nonce_prefix,
        )

    @classmethod
    def parse(cls, raw: bytes) -> StreamHeader:
        if len(raw) < HEADER_SIZE:
            raise TruncatedStream("ciphertext shorter than its header")
        magic, version, aead, digest, reserved, chunk_size, prefix = _HEADER.unpack(
            raw[:HEADER_SIZE]
        )
        if magic != MAGIC:
            raise FormatError("not a PHR segment ciphertext (bad magic)")
        if version != FORMAT_VERSION:
            raise FormatError(f"unsupported segment format version {version}")
        if aead != AEAD_AES256GCM or digest != DIGEST_SHA256 or reserved != 0:
            raise FormatError("unsupported algorithm identifiers in segment header")
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise FormatError(f"chunk size {chunk_size} out of range")
        return cls(chunk_size, prefix)


def _check_key(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise ValueError("a data key has 32 bytes (AES-256)")
    return AESGCM(key)


def _pieces(source: ByteSource) -> Iterator[Buffer]:
    if hasattr(source, "read"):
        read = source.read
        while piece := read(DEFAULT_CHUNK_SIZE):
            yield piece
    else:
        yield from source


def _immutable(piece: Buffer) -> bool:
    return type(piece) is bytes or (type(piece) is memoryview and type(piece.obj) is bytes)


def rechunk(source: ByteSource, size: int) -> Iterator[bytes | memoryview]:
    """Cut a byte source into ``size``-byte chunks (the last may be shorter, never absent).

    Immutable ``bytes`` pieces are sliced without copying; anything else is copied,
    because its owner may reuse the buffer.
    """
    buf = bytearray()
    emitted = False
    for piece in _pieces(source):
        if not buf and _immutable(piece):
            view = memoryview(piece)
            n, off = len(view), 0
            while n - off >= size:
                yield view[off : off + size] if (off or n != size) else piece  # type: ignore[misc]
                emitted = True
                off += size
            if off < n:
                buf += view[off:]
            continue
        buf += piece
        while len(buf) >= size:
            yield bytes(buf[:size])
            emitted = True
            del buf[:size]
    if buf or not emitted:
        yield bytes(buf)


def _with_final(chunks: Iterator[bytes | memoryview]) -> Iterator[tuple[bytes | memoryview, bool]]:
    pending = next(chunks)
    for nxt in chunks:
        yield pending, False
        pending = nxt
    yield pending, True


class SegmentEncryptor:
    """Iterator over the ciphertext of one segment: the header, then one item per chunk.

    After exhaustion, ``sha256`` is the digest of all ciphertext bytes and ``size`` their
    count. Memory holds at most two chunks.
    """

    def __init__(
        self,
        data_key: bytes,
        context: SegmentContext,
        source: ByteSource,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        rand: RandomBytes = os.urandom,
    ) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk size out of range")
        self._aes = _check_key(data_key)
        self.header = StreamHeader(chunk_size, rand(NONCE_PREFIX_SIZE)).to_bytes()
        self._aad = self.header + context.aad()
        self._source = source
        self._hash = hashlib.sha256(self.header)
        self.size = 0
        self.plaintext_size = 0
        self._done = False
        self._it = self._run()

    def __iter__(self) -> Iterator[bytes]:
        return self._it

    def __next__(self) -> bytes:
        return next(self._it)

    def _run(self) -> Iterator[bytes]:
        yield self.header
        self.size = len(self.header)
        prefix = self.header[-NONCE_PREFIX_SIZE:]
        encrypt, update, aad = self._aes.encrypt, self._hash.update, self._aad
        size = self.size
        plain = 0
        chunk_size = StreamHeader.parse(self.header).chunk_size
        for index, (chunk, final) in enumerate(_with_final(rechunk(self._source, chunk_size))):
            nonce = prefix + index.to_bytes(4, "big") + (_FINAL if final else _NOT_FINAL)
            ct = encrypt(nonce, chunk, aad)
            update(ct)
            size += len(ct)
            plain += len(chunk)
            yield ct
        self.size, self.plaintext_size, self._done = size, plain, True

    @property
    def sha256(self) -> bytes:
        if not self._done:
            raise RuntimeError("the digest is known only after the stream is consumed")
        return self._hash.digest()


class SegmentDecryptor:
    """Iterator over the plaintext chunks of one segment ciphertext.

    Raises a subclass of :class:`~phr.crypto.errors.IntegrityError` or
    :class:`~phr.crypto.errors.FormatError` as soon as something is wrong; truncation
    and a digest mismatch surface at the end of the stream.
    """

    def __init__(
        self,
        data_key: bytes,
        context: SegmentContext,
        source: ByteSource,
        *,
        expected_sha256: bytes | None = None,
    ) -> None:
        self._aes = _check_key(data_key)
        self._context = context
        self._source = source
        self._expected = expected_sha256
        self._hash = hashlib.sha256()
        self._it = self._run()
        self.sha256: bytes | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self._it

    def __next__(self) -> bytes:
        return next(self._it)

    def _run(self) -> Iterator[bytes]:
        pieces = _pieces(self._source)
        head = bytearray()
        rest: Buffer = b""
        for piece in pieces:
            need = HEADER_SIZE - len(head)
            view = memoryview(piece)
            head += view[:need]
            if len(head) == HEADER_SIZE:
                # Keep the remainder as a view of an immutable piece: no copy.
                rest = view[need:] if _immutable(piece) else bytes(view[need:])
                break
        header = StreamHeader.parse(bytes(head))
        raw_header = bytes(head)
        aad = raw_header + self._context.aad()
        update = self._hash.update
        update(raw_header)

        def body() -> Iterator[Buffer]:
            if len(rest):
                yield rest
            yield from pieces

        decrypt = self._aes.decrypt
        prefix = header.nonce_prefix
        chunks = rechunk(body(), header.chunk_size + TAG_SIZE)
        index = 0
        for ct, final in _with_final(chunks):
            if final and len(ct) == 0:
                if index == 0:
                    raise TruncatedStream("no chunk after the header")
                # The previous chunk was full-size but not final: the stream was cut.
                raise TruncatedStream(f"stream ends after chunk {index - 1} without a final chunk")
            update(ct)
            nonce = prefix + index.to_bytes(4, "big")
            try:
                yield decrypt(nonce + (_FINAL if final else _NOT_FINAL), ct, aad)
            except InvalidTag:
                raise self._diagnose(decrypt, nonce, ct, aad, final, index) from None
            index += 1
        digest = self._hash.digest()
        self.sha256 = digest
        if self._expected is not None and not hmac.compare_digest(digest, self._expected):
            raise DigestMismatch("ciphertext SHA-256 differs from the manifest")

    @staticmethod
    def _diagnose(
        decrypt: Callable[[bytes, bytes | memoryview, bytes], bytes],
        nonce: bytes,
        ct: bytes | memoryview,
        aad: bytes,
        final: bool,
        index: int,
    ) -> Exception:
        """Name the failure precisely: cut after a good chunk, bytes after the end, or bad."""
        try:
            decrypt(nonce + (_NOT_FINAL if final else _FINAL), ct, aad)
        except InvalidTag:
            return ChunkAuthError(f"chunk {index} does not authenticate")
        if final:
            return TruncatedStream(f"stream ends after chunk {index} without a final chunk")
        return TrailingData(f"data follows the final chunk {index}")


def encrypt_segment_bytes(
    data_key: bytes,
    context: SegmentContext,
    plaintext: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    rand: RandomBytes = os.urandom,
) -> tuple[bytes, bytes]:
    """Encrypt a whole segment held in memory; return (ciphertext, sha256 of it)."""
    enc = SegmentEncryptor(data_key, context, [plaintext], chunk_size=chunk_size, rand=rand)
    ciphertext = b"".join(enc)
    return ciphertext, enc.sha256


def decrypt_segment_bytes(
    data_key: bytes,
    context: SegmentContext,
    ciphertext: bytes,
    *,
    expected_sha256: bytes | None = None,
) -> bytes:
    """Decrypt and fully authenticate a whole segment held in memory."""
    dec = SegmentDecryptor(data_key, context, [ciphertext], expected_sha256=expected_sha256)
    return b"".join(dec)

"""The capture file: NDJSON, a header line, then one line per Kafka record.

The header carries what a capture needs to verify on its own: the KGC-signed system
parameters the producers signed under (every producer's public key is in them), the
source ledger's checkpoint when the capture was taken, each topic's partition count,
and the filters the capture was taken with. Each record line keeps its topic,
partition, offset, timestamp (ms), key, value and headers (bytes as base64), so a
replay can write the same per-partition streams.

Captures written before this header existed (first line ``{"kind": "topics", ...}``)
still read: they carry no keys, so :func:`phr.capture.verify.verify_capture` needs the
parameters from elsewhere for them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

FORMAT_VERSION = 2


class CaptureInvalid(Exception):
    """Not a capture file, or a line of it is malformed."""


class CaptureFilters(BaseModel):
    """What part of the stream was captured (all of it by default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: list[str]
    since: datetime | None = None
    until: datetime | None = None
    from_offset: int | None = Field(default=None, ge=0)
    to_offset: int | None = Field(default=None, ge=0)


class CaptureHeader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["capture"] = "capture"
    format: int = FORMAT_VERSION
    created: datetime
    #: topic -> partition count at capture time
    partitions: dict[str, int]
    #: the KGC's signed system parameters (``GET /v1/params``), None if not known
    params: dict[str, Any] | None = None
    #: the source ledger's C2SP checkpoint note when the capture ended, None if not read
    checkpoint: str | None = None
    #: the ledger's checkpoint origin (the key name of its note signatures)
    ledger_origin: str | None = None
    filters: CaptureFilters


class CapturedRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["record"] = "record"
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp: int | None = None
    key: str | None = None
    value: str | None = None
    headers: list[tuple[str, str | None]] = []

    @property
    def key_bytes(self) -> bytes | None:
        return unb64(self.key)

    @property
    def value_bytes(self) -> bytes | None:
        return unb64(self.value)

    def header_pairs(self) -> list[tuple[str, bytes]]:
        return [(k, unb64(v) or b"") for k, v in self.headers]


def b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


class Capture(BaseModel):
    """A whole capture in memory (captures of tests and load runs fit)."""

    model_config = ConfigDict(frozen=True)

    header: CaptureHeader
    records: list[CapturedRecord]

    def event_records(self, topics: Iterable[str]) -> Iterator[CapturedRecord]:
        wanted = set(topics)
        return (r for r in self.records if r.topic in wanted)


def _header(first: dict[str, Any]) -> CaptureHeader:
    if first.get("kind") == "topics":  # format 1: partition counts only
        parts = dict(first.get("partitions") or {})
        return CaptureHeader(
            format=1,
            created=datetime.fromtimestamp(0).astimezone(),
            partitions=parts,
            filters=CaptureFilters(topics=sorted(parts)),
        )
    return CaptureHeader.model_validate(first)


def read_capture(path: Path) -> Capture:
    """Parse a capture file; raises :class:`CaptureInvalid` naming the bad line."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaptureInvalid(f"{path}: cannot read: {exc}") from exc
    if not lines:
        raise CaptureInvalid(f"{path}: empty, not a capture")
    try:
        header = _header(json.loads(lines[0]))
    except (ValueError, ValidationError) as exc:
        raise CaptureInvalid(f"{path}:1: not a capture header: {exc}") from exc
    records: list[CapturedRecord] = []
    for n, line in enumerate(lines[1:], start=2):
        try:
            records.append(CapturedRecord.model_validate_json(line))
        except ValidationError as exc:
            raise CaptureInvalid(f"{path}:{n}: not a captured record") from exc
    return Capture(header=header, records=records)


def write_capture(path: Path, header: CaptureHeader, records: Iterable[CapturedRecord]) -> int:
    """Write a capture; returns the number of records."""
    count = 0
    with path.open("w") as fh:
        fh.write(header.model_dump_json() + "\n")
        for rec in records:
            fh.write(rec.model_dump_json() + "\n")
            count += 1
    return count

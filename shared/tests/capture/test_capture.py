"""Captures: the generated stream, verification's refusals, replay selection, the report."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from phr.capture.format import CapturedRecord, CaptureInvalid, read_capture
from phr.capture.generate import generate, throwaway_key
from phr.capture.kafka import Until, select
from phr.capture.report import rejected_counts, sent_counts
from phr.capture.verify import verify_capture
from phr.crypto.signing import SigningKey
from phr.events.envelope import Envelope, new_event


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cap") / "gen.ndjson"
    generate(out, patients=12, seed=5)
    return out


def _rewrite(src: Path, dst: Path, edit: object) -> Path:
    lines = src.read_text().splitlines()
    edit(lines)  # type: ignore[operator]
    dst.write_text("\n".join(lines) + "\n")
    return dst


def test_generated_stream_is_deterministic_and_verifies(stream: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.ndjson"
    generate(again, patients=12, seed=5)
    assert again.read_bytes() == stream.read_bytes()
    other = tmp_path / "other.ndjson"
    generate(other, patients=12, seed=6)
    assert other.read_bytes() != stream.read_bytes()
    verdict = verify_capture(read_capture(stream))
    assert verdict.ok, verdict.problems
    assert verdict.events["user.enrolled"] >= 12 and verdict.events["record.uploaded"] >= 12
    keys = json.loads((stream.parent / "gen.ndjson.keys.json").read_text())
    assert set(keys["ed25519_private"]) >= {"kgc", "owner-api", "srs-1"}


def _value(line: str) -> tuple[dict[str, object], bytes]:
    rec = json.loads(line)
    return rec, base64.b64decode(rec["value"])


def test_one_changed_byte_is_refused(stream: Path, tmp_path: Path) -> None:
    def flip(lines: list[str]) -> None:
        rec, value = _value(lines[3])
        at = value.index(b'"data"') + 10
        rec["value"] = base64.b64encode(value[:at] + bytes([value[at] ^ 2]) + value[at + 1 :])
        rec["value"] = rec["value"].decode()  # type: ignore[attr-defined]
        lines[3] = json.dumps(rec)

    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "bad.ndjson", flip)))
    assert not verdict.ok
    assert any("bad signature" in p or "not an event" in p for p in verdict.problems)


def test_duplicate_ids_and_disorder_are_refused(stream: Path, tmp_path: Path) -> None:
    def redelivered(lines: list[str]) -> None:
        rec, _ = _value(lines[2])
        rec["offset"] = 10_000
        lines.append(json.dumps(rec))

    # The same bytes again: an outbox's at-least-once retry, counted and accepted.
    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "re.ndjson", redelivered)))
    assert verdict.ok and verdict.redelivered == 1, verdict.problems

    def duplicate(lines: list[str]) -> None:
        rec, raw = _value(lines[2])
        event = Envelope.from_json_bytes(raw)
        twin = new_event(
            key=throwaway_key(5, event.source),
            source=event.source,
            type=event.type,
            schemaversion=event.schemaversion,
            subject=event.subject,
            data=event.data,
            id=event.id,
        )
        rec["offset"] = 10_000
        rec["value"] = base64.b64encode(twin.to_json_bytes()).decode()
        lines.append(json.dumps(rec))

    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "dup.ndjson", duplicate)))
    assert any("appears twice, other bytes" in p for p in verdict.problems), verdict.problems

    def swap(lines: list[str]) -> None:
        first = next(i for i in range(1, len(lines)) if json.loads(lines[i])["offset"] == 0)
        tp = (json.loads(lines[first])["topic"], json.loads(lines[first])["partition"])
        second = next(
            i
            for i in range(first + 1, len(lines))
            if (json.loads(lines[i])["topic"], json.loads(lines[i])["partition"]) == tp
        )
        lines[first], lines[second] = lines[second], lines[first]

    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "swap.ndjson", swap)))
    assert any("out of order" in p for p in verdict.problems)


def test_another_producers_key_or_a_forged_source_is_refused(stream: Path, tmp_path: Path) -> None:
    def forge(lines: list[str]) -> None:
        rec, value = _value(lines[1])
        doc = json.loads(value)
        doc["source"] = "user-api"  # a kgc event claiming another source
        rec["value"] = base64.b64encode(json.dumps(doc).encode()).decode()
        lines[1] = json.dumps(rec)

    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "forged.ndjson", forge)))
    assert any("claims source" in p or "bad signature" in p for p in verdict.problems)

    def other_params(lines: list[str]) -> None:
        head = json.loads(lines[0])
        head["params"]["signature"] = head["params"]["signature"][::-1]
        lines[0] = json.dumps(head)

    verdict = verify_capture(read_capture(_rewrite(stream, tmp_path / "p.ndjson", other_params)))
    assert verdict.problems and verdict.problems[0].startswith("system parameters")
    # Pinned to another KGC key, the capture's own parameters are refused too.
    pin = SigningKey.generate().verify_key.b64()
    assert not verify_capture(read_capture(stream), kgc_key=pin).ok


def test_a_malformed_line_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "x.ndjson"
    bad.write_text('{"kind": "capture"}\n')
    with pytest.raises(CaptureInvalid, match=":1:"):
        read_capture(bad)


def _rec(topic: str, partition: int, offset: int, ts: int) -> CapturedRecord:
    return CapturedRecord(topic=topic, partition=partition, offset=offset, timestamp=ts)


def test_replay_order_merges_partitions_by_time_and_stops_at_until() -> None:
    recs = [_rec("a", 0, 0, 10), _rec("a", 0, 1, 30), _rec("a", 1, 0, 20), _rec("b", 0, 0, 5)]
    assert [(r.topic, r.partition, r.offset) for r in select(recs, None)] == [
        ("b", 0, 0),
        ("a", 0, 0),
        ("a", 1, 0),
        ("a", 0, 1),
    ]
    assert len(select(recs, Until.parse("0"))) == 3
    until = Until.parse("1970-01-01T00:00:00.020Z")
    assert until is not None and until.time_ms == 20
    assert [r.timestamp for r in select(recs, until)] == [5, 10, 20]
    with pytest.raises(ValueError):
        Until.parse("yesterday")
    with pytest.raises(ValueError):
        Until.parse("2026-12-01T10:00:00")  # no zone


def test_report_counts_rejections_once_per_event(stream: Path) -> None:
    capture = read_capture(stream)
    events = list(capture.event_records(["phr.users", "phr.access"]))
    sent = sent_counts(events)
    assert sent["user.enrolled"] >= 12
    dead = [
        CapturedRecord(
            topic="phr.deadletter",
            partition=0,
            offset=i,
            value=events[0].value,
            headers=[("phr-reason", base64.b64encode(b"bad signature").decode())],
        )
        for i in range(2)  # both ledger replicas refused the same event
    ]
    rejected = rejected_counts(dead)
    assert {t: dict(c) for t, c in rejected.items()} == {"user.enrolled": {"bad signature": 1}}


def test_the_commands_as_a_tester_types_them(tmp_path: Path) -> None:
    """`phr events generate` then `phr events verify FILE --json` (--json after it), and a
    dry-run replay that names its target and sends nothing (the broker is unreachable)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env["PHR_HOME"] = str(tmp_path / "home")

    def phr(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "phr.cli", *args],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    cap = tmp_path / "load.ndjson"
    made = phr("events", "generate", "--patients", "3", "--seed", "9", "-o", str(cap), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["events"] > 10
    checked = phr("events", "verify", str(cap), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ok"] is True
    dry = phr("events", "replay", str(cap), "--bootstrap", "127.0.0.1:1", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["records"] == json.loads(made.stdout)["events"]
    no_target = phr("events", "replay", str(cap))
    assert no_target.returncode != 0 and "--bootstrap" in no_target.stderr

"""Check Kafka records against docs/asyncapi.json: topic, headers, content type, message.

A record conforms when its topic is a declared channel and one of that channel's
messages takes it: its headers validate against the message's headers schema (no other
header), its ``content-type`` header is the message's content type (absent for a
non-CloudEvents message), and a CloudEvent's value validates against the payload schema
with ``type`` the message's name. :meth:`WireCheck.coverage_gaps` names what the
document's ``send`` operations declare but the records never showed (so the document
holds nothing else than the wire); a message only its channel lists (a type no longer
produced, still read) is no gap, and :meth:`WireCheck.retired_seen` names any such
message the records did show (so something still produces it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, Draft202012Validator  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.json"
SPEC_SCHEMA = ROOT / "shared/tests/events/data/asyncapi-3.0.0/schema.json"
CLOUDEVENTS_JSON = "application/cloudevents+json"


@dataclass(frozen=True)
class Record:
    topic: str
    headers: Sequence[tuple[str, bytes]]
    key: bytes | None
    value: bytes


def spec_errors(document: dict[str, Any]) -> list[str]:
    """Where ``document`` breaks the AsyncAPI 3.0.0 JSON Schema (the spec's own)."""
    validator = Draft7Validator(json.loads(SPEC_SCHEMA.read_text()))
    return [f"{list(e.path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


class WireCheck:
    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.channels = {c["address"]: c for c in document["channels"].values()}
        #: (topic, message name) -> times matched; header names seen per message
        self.seen: dict[tuple[str, str], int] = {}
        self.headers_seen: dict[str, set[str]] = {}
        #: (topic, message name) of every message some send operation names
        self.sent = {
            (self._address(op["channel"]["$ref"]), m["$ref"].rsplit("/", 1)[-1])
            for op in document["operations"].values()
            if op["action"] == "send"
            for m in op["messages"]
        }

    def _address(self, channel_ref: str) -> str:
        address: str = self.doc["channels"][channel_ref.rsplit("/", 1)[-1]]["address"]
        return address

    def _validator(self, pointer: str) -> Draft202012Validator:
        # the document as the root, so "#/components/..." references resolve in it
        return Draft202012Validator({**self.doc, "$ref": pointer})

    def _message(self, ref: str) -> tuple[str, dict[str, Any]]:
        name = ref.rsplit("/", 1)[-1]
        return name, self.doc["components"]["messages"][name]

    def problem(self, record: Record) -> str | None:
        """None if ``record`` conforms (and counts it), else what is wrong."""
        channel = self.channels.get(record.topic)
        if channel is None:
            return f"topic {record.topic} is not in the document"
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        if len(headers) != len(record.headers):
            return f"{record.topic}: a header repeats: {[k for k, _ in record.headers]}"
        reasons = []
        for ref in (m["$ref"] for m in channel["messages"].values()):
            name, message = self._message(ref)
            why = self._mismatch(record, headers, name, message)
            if why is None:
                self.seen[(record.topic, name)] = self.seen.get((record.topic, name), 0) + 1
                self.headers_seen.setdefault(name, set()).update(headers)
                return None
            reasons.append(f"{name}: {why}")
        # the closest candidates first: the type matched and only the payload did not
        relevant = [r for r in reasons if not r.endswith("another event type")] or reasons
        relevant.sort(key=lambda r: ": payload:" not in r)
        return f"{record.topic}: no message takes it ({'; '.join(relevant)[:600]})"

    def _mismatch(
        self, record: Record, headers: dict[str, str], name: str, message: dict[str, Any]
    ) -> str | None:
        base = f"#/components/messages/{name}"
        bad = next(iter(self._validator(base + "/headers").iter_errors(headers)), None)
        if bad is not None:
            return f"headers {sorted(headers)}: {bad.message[:120]}"
        if message["contentType"] == CLOUDEVENTS_JSON:
            if headers.get("content-type") != CLOUDEVENTS_JSON:
                return f"content-type {headers.get('content-type')!r}"
            try:
                value = json.loads(record.value)
            except ValueError:
                return "value is not JSON"
            if not isinstance(value, dict) or value.get("type") != message["name"]:
                return "another event type"
            bad = next(iter(self._validator(base + "/payload").iter_errors(value)), None)
            if bad is not None:
                return f"payload: {bad.message[:160]}"
        elif "content-type" in headers:
            return f"content-type {headers['content-type']!r} on a {message['contentType']}"
        return None

    def coverage_gaps(self) -> list[str]:
        """What the document says is sent that the checked records never showed."""
        gaps = []
        for channel in self.doc["channels"].values():
            for ref in (m["$ref"] for m in channel["messages"].values()):
                name, message = self._message(ref)
                if (channel["address"], name) not in self.sent:
                    continue  # no longer produced: may be on the wire, need not be
                if (channel["address"], name) not in self.seen:
                    gaps.append(f"message {name} on {channel['address']}")
                    continue
                declared = set(message["headers"]["properties"])
                if declared - self.headers_seen.get(name, set()):
                    gaps.append(f"headers {sorted(declared)} of {name}")
        return gaps

    def retired_seen(self) -> list[str]:
        """Messages the records showed that no send operation names (no longer produced)."""
        return sorted(f"message {n} on {t}" for t, n in self.seen if (t, n) not in self.sent)

    def check_all(self, records: Iterable[Record]) -> list[str]:
        return [p for p in map(self.problem, records) if p is not None]

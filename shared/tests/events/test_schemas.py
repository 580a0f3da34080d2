"""Each event type's JSON Schema is committed under docs/schemas/ (the file its
``dataschema`` URI resolves to) and frozen there; the AsyncAPI document is current.

After an intended change: `make snapshots` (rewrites both), and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phr.events.asyncapi import render
from phr.events.catalog import CATALOG
from phr.events.envelope import dataschema_path, dataschema_uri
from phr.events.schemas import data_schema, envelope_schema
from phr.events.schemas import render as render_schema

ROOT = Path(__file__).resolve().parents[3]
SNAPSHOTS = ROOT / "docs" / "schemas"
ASYNCAPI = ROOT / "docs" / "asyncapi.json"
UPDATE = os.environ.get("PHR_UPDATE_SNAPSHOTS") == "1"


def _check(path: Path, current: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current)
    assert path.exists(), f"no snapshot {path.name}: run `make snapshots`"
    assert path.read_text() == current, f"{path.name} changed: bump the version or `make snapshots`"


@pytest.mark.parametrize("key", sorted(CATALOG), ids=lambda k: f"{k[0]}.v{k[1]}")
def test_event_data_schema_matches_snapshot(key: tuple[str, int]) -> None:
    spec = CATALOG[key]
    path = ROOT / dataschema_path(dataschema_uri(spec.type, spec.version))
    assert path.parent == SNAPSHOTS
    _check(path, render_schema(data_schema(spec)))


def test_envelope_schema_matches_snapshot() -> None:
    _check(SNAPSHOTS / "envelope.json", render_schema(envelope_schema()))


def test_no_stale_schema_is_left_in_docs() -> None:
    expected = {f"{s.type}.v{s.version}.json" for s in CATALOG.values()} | {"envelope.json"}
    assert {p.name for p in SNAPSHOTS.glob("*.json")} == expected


def test_asyncapi_document_is_current() -> None:
    _check(ASYNCAPI, render())


def test_asyncapi_names_every_type_on_its_topic() -> None:
    doc = json.loads(render())
    assert doc["asyncapi"] == "3.0.0"
    for spec in CATALOG.values():
        channel = doc["channels"][spec.topic]
        names = {m.split("/")[-1] for m in (v["$ref"] for v in channel["messages"].values())}
        assert f"{spec.type.replace('.', '_')}_v{spec.version}" in names
